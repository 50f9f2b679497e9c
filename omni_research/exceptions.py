"""The one exception tree of omni_research.

::

    OmniDataError                       every error the kit raises on purpose
    ├── DataFormatError (ValueError)    unreadable, truncated, corrupt or wrongly formatted file
    ├── DataValidationError (ValueError) schema or rule failures; ``.failure_cases`` is a frame
    ├── DataWriteError (OSError)        a file of a data root could not be written
    ├── ProductionDataError (PermissionError)  the production guard refused a read
    ├── UnknownKindError (LookupError)  a data kind, dataset or indicator that does not exist
    ├── ConfigurationError (ValueError) misuse: bad options, missing environment, bad manifest
    └── SourceError                     a provider's answer the kit cannot recover from

Data problems (format, validation) are kept apart from misuse (production, configuration).
Every message says what was expected, what came, where, and what to do.
"""

from __future__ import annotations

import polars as pl


class OmniDataError(Exception):
    """Base class of every error omni_research raises on purpose."""


class DataFormatError(OmniDataError, ValueError):
    """A file is unreadable, truncated, corrupt or not in the expected format."""


class DataValidationError(OmniDataError, ValueError):
    """Data broke a schema rule.

    Attributes
    ----------
    failure_cases : pl.DataFrame
        One row per failure, with at least ``column``, ``check`` and ``failure_case`` columns.
    """

    def __init__(self, message: str, failure_cases: pl.DataFrame | None = None) -> None:
        super().__init__(message)
        self.failure_cases = (
            failure_cases
            if failure_cases is not None
            else pl.DataFrame(
                schema={"column": pl.String, "check": pl.String, "failure_case": pl.String}
            )
        )


class DataWriteError(OmniDataError, OSError):
    """A file of a data root could not be written (disk full, permissions, a file in the way).

    The message names the file; the OS error is the ``__cause__``.
    """


class ProductionDataError(OmniDataError, PermissionError):
    """The production guard refused to read a path. There is no switch to turn it off."""


class UnknownKindError(OmniDataError, LookupError):
    """A data kind, dataset or indicator name that does not exist."""


class ConfigurationError(OmniDataError, ValueError):
    """Misuse: a bad option, a missing environment variable or a malformed manifest."""


class SourceError(OmniDataError):
    """A download from a provider failed in a way retrying cannot fix.

    The message names the URL (without secrets), the HTTP status or the provider's code,
    what differed from the documented answer, and what to do (wait and resume, fix an
    option). Nothing of the failed unit was written.

    Attributes
    ----------
    url : str
        The request's URL with secret query values masked.
    status : int or None
        The HTTP status, when an answer came.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


__all__ = [
    "ConfigurationError",
    "DataFormatError",
    "DataValidationError",
    "DataWriteError",
    "OmniDataError",
    "ProductionDataError",
    "SourceError",
    "UnknownKindError",
]
