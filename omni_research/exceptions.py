"""The one exception tree of omni_research.

::

    OmniDataError                       every error the kit raises on purpose
    ├── DataFormatError (ValueError)    unreadable, truncated, corrupt or wrongly formatted file
    ├── DataValidationError (ValueError) schema or rule failures; ``.failure_cases`` is a frame
    ├── DataWriteError (OSError)        a file of a data root could not be written
    ├── ProductionDataError (PermissionError)  the production guard refused a read
    ├── AccessDeniedError (PermissionError)    the root's access table refused the caller
    ├── KeyAccessError (PermissionError)       a master key in the KMS could not be used
    ├── UnknownKindError (LookupError)  a data kind, dataset or indicator that does not exist
    ├── ConfigurationError (ValueError) misuse: bad options, missing environment, bad manifest
    │   └── MissingKeyError             a key a read needs (pseudonymising, decrypting) is absent
    ├── StorageError (OSError)          an object store refused or failed (credentials, bucket,
    │   │                               connection); the message names the URI
    │   └── WriteConflictError          another writer changed the manifest first: re-read, retry
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


class AccessDeniedError(OmniDataError, PermissionError):
    """The data root's ``[access]`` table gives the caller no role that may read this kind.

    Raised before any byte of a data file is read; the message names the user, the kind,
    the root and the roles that would allow the read.

    Attributes
    ----------
    user : str or None
        Who was refused (the name the audit record carries).
    """

    def __init__(self, message: str, *, user: str | None = None) -> None:
        super().__init__(message)
        self.user = user


class KeyAccessError(OmniDataError, PermissionError):
    """An encrypted file's master key could not be used: no KMS configured, the KMS
    unreachable or refusing, the key revoked, destroyed or not the one that wrapped the
    data key.

    The message names the file and the master key id (never key bytes) and what to do.
    """


class UnknownKindError(OmniDataError, LookupError):
    """A data kind, dataset or indicator name that does not exist."""


class ConfigurationError(OmniDataError, ValueError):
    """Misuse: a bad option, a missing environment variable or a malformed manifest."""


class MissingKeyError(ConfigurationError):
    """A key a read needs (the pseudonymisation key, a decryption key) is not available.

    The read is refused before any row is returned, and the refusal is audited
    (``reason = "key"``). The message says which key and how to provide it, never its value.
    """


class StorageError(OmniDataError, OSError):
    """An object store refused or failed a request: a wrong credential, a missing bucket, a
    refused or dropped connection. The message names the URI (never a secret) and what to do;
    nothing partial is returned."""


class WriteConflictError(StorageError):
    """A conditional write lost: another writer changed the object (the manifest) since it was
    read. Nothing of this writer's manifest update was applied; re-read and retry."""


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
    "AccessDeniedError",
    "ConfigurationError",
    "DataFormatError",
    "DataValidationError",
    "DataWriteError",
    "KeyAccessError",
    "MissingKeyError",
    "OmniDataError",
    "ProductionDataError",
    "SourceError",
    "StorageError",
    "UnknownKindError",
    "WriteConflictError",
]
