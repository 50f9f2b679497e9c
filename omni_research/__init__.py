"""omni_research: the research data kit of the OMNI trading system.

Polars-first: a validated, lazily scanned catalog of test and research data (never
production), indicators as expressions, bars, backtests, widgets and reports.
"""

from omni_research import schemas, testing
from omni_research._catalog import Catalog, DataFile, Dataset, ReadRecord, open_catalog, read
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    OmniDataError,
    ProductionDataError,
    UnknownKindError,
)
from omni_research.schemas import validate

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "ConfigurationError",
    "DataFile",
    "DataFormatError",
    "DataValidationError",
    "Dataset",
    "OmniDataError",
    "ProductionDataError",
    "ReadRecord",
    "UnknownKindError",
    "__version__",
    "open_catalog",
    "read",
    "schemas",
    "testing",
    "validate",
]
