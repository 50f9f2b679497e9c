"""omni_research: the research data kit of the OMNI trading system.

Polars-first: a validated, lazily scanned catalog of test and research data (never
production), indicators as expressions, bars, backtests, widgets and reports.
"""

import importlib
from types import ModuleType

from omni_research import schemas, testing
from omni_research._at_rest import EncryptReport, RotateReport, encrypt_root, rotate_master_key
from omni_research._catalog import Catalog, DataFile, Dataset, ReadRecord, open_catalog, read
from omni_research._kms import KmipKms, LocalKeyFile, create_local_key
from omni_research._public import publish
from omni_research._sync import SyncReport, sync
from omni_research.exceptions import (
    AccessDeniedError,
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    KeyAccessError,
    OmniDataError,
    ProductionDataError,
    StorageError,
    UnknownKindError,
    WriteConflictError,
)
from omni_research.schemas import validate

__version__ = "0.1.0"

publish(__name__, Catalog, DataFile, Dataset, ReadRecord, SyncReport)
publish(__name__, EncryptReport, KmipKms, LocalKeyFile, RotateReport)

# Subpackages that pull in heavy libraries (numba, matplotlib, ipywidgets, nbconvert) load on
# first use, so that `import omni_research` stays fast for scripts.
_LAZY = (
    "backtest",
    "bars",
    "indicators",
    "io",
    "orderbook",
    "plotting",
    "pnl",
    "quality",
    "reports",
    "widgets",
)


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        module = importlib.import_module(f"omni_research.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'omni_research' has no attribute {name!r}")


__all__ = [
    "AccessDeniedError",
    "Catalog",
    "ConfigurationError",
    "DataFile",
    "DataFormatError",
    "DataValidationError",
    "Dataset",
    "EncryptReport",
    "KeyAccessError",
    "KmipKms",
    "LocalKeyFile",
    "OmniDataError",
    "ProductionDataError",
    "ReadRecord",
    "RotateReport",
    "StorageError",
    "SyncReport",
    "UnknownKindError",
    "WriteConflictError",
    "__version__",
    "backtest",
    "bars",
    "create_local_key",
    "encrypt_root",
    "indicators",
    "io",
    "open_catalog",
    "orderbook",
    "plotting",
    "pnl",
    "quality",
    "read",
    "reports",
    "rotate_master_key",
    "schemas",
    "sync",
    "testing",
    "validate",
    "widgets",
]
