"""``omni-research``: the command line, one module per subcommand.

Each subcommand lives in its own module (``_catalog``, ``_validate``, ``_verify``,
``_make_test_data``, ``_quality``, ``_import_bybit``, ``_report``, ``_audit``) with one convention:
``NAME``, ``HELP``, ``configure(parser)`` adding its arguments and ``run(args)`` returning
the exit code (0 fine, 1 findings or failures, 2 the command could not run; ``report``
keeps 1 for a kit error). Modules import the kit inside ``run``, so ``--help`` is fast.
The CLI is the top of the package: nothing imports it, and it is the only place that
opens a catalog on a user's behalf. ``omni_research.cli:main`` is the console script.
"""

from omni_research.cli._main import COMMANDS, build_parser, main
from omni_research.cli._quality import quality_main
from omni_research.cli._report import report_main

__all__ = ["COMMANDS", "build_parser", "main", "quality_main", "report_main"]
