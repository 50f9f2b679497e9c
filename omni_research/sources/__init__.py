"""Downloads from the providers into research roots, resumable and rate-limit aware.

One module per provider (``omni_research.sources.bybit``), each with a
``download(root, /, *, ...) -> DownloadSummary``; the shared machinery (one HTTP client
per download, one retry policy, the providers' limits as data, the plan and ledger of
resumable work) lives in the private modules next to them. Downloads write only into
research roots made by :func:`init_root`; the production guard runs before the first
request.
"""

from omni_research._public import publish
from omni_research.sources import bybit
from omni_research.sources._http import (
    LIMITS,
    Limits,
    RetryPolicy,
    SourceSettings,
    source_settings,
)
from omni_research.sources._roots import ROOT_FOLDERS, init_root
from omni_research.sources._summary import DownloadSummary, Progress

publish(__name__, DownloadSummary, Limits, Progress, RetryPolicy, SourceSettings)

__all__ = [
    "LIMITS",
    "ROOT_FOLDERS",
    "DownloadSummary",
    "Limits",
    "Progress",
    "RetryPolicy",
    "SourceSettings",
    "bybit",
    "init_root",
    "source_settings",
]
