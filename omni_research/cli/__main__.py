"""``python -m omni_research.cli``: the same as the ``omni-research`` command."""

import sys

from omni_research.cli._main import main

sys.exit(main())
