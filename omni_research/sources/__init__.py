"""Downloads from the providers into research roots, resumable and rate-limit aware.

One module per provider (``bybit``, ``coingecko``, ``newsapi``, ``x``), each with a
``download(root, /, *, ...) -> DownloadSummary``; the shared machinery (one HTTP client
per download, one retry policy, the providers' limits as data, the plan and ledger of
resumable work) lives in the private modules next to them. Downloads write only into
research roots made by :func:`init_root`; the production guard runs before the first
request. The downloads need the ``sources`` extra (``pip install 'omni-research[sources]'``:
httpx, tenacity); without it, importing this package raises ConfigurationError saying so.
"""

from omni_research._extras import require_extra

require_extra("sources", "omni_research.sources", modules=("httpx", "tenacity"))

from omni_research._public import publish  # noqa: E402
from omni_research.sources import bybit, coingecko, newsapi, x  # noqa: E402
from omni_research.sources._http import (  # noqa: E402
    LIMITS,
    Limits,
    RetryPolicy,
    SourceSettings,
    source_settings,
)
from omni_research.sources._progress import ProgressDisplay, progress_display  # noqa: E402
from omni_research.sources._roots import ROOT_FOLDERS, init_root  # noqa: E402
from omni_research.sources._summary import DownloadSummary, Progress  # noqa: E402

publish(__name__, DownloadSummary, Limits, Progress, ProgressDisplay, RetryPolicy, SourceSettings)

__all__ = [
    "LIMITS",
    "ROOT_FOLDERS",
    "DownloadSummary",
    "Limits",
    "Progress",
    "ProgressDisplay",
    "RetryPolicy",
    "SourceSettings",
    "bybit",
    "coingecko",
    "init_root",
    "newsapi",
    "progress_display",
    "source_settings",
    "x",
]
