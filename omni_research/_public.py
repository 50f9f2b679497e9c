"""Public classes carry their public path: ``omni_research.Catalog``, not ``_catalog.Catalog``.

The curated ``__init__.py`` files call :func:`publish` on the classes they export, as Polars
does: ``__module__`` then names the package a user imports from, so reprs, tracebacks, help()
and Sphinx show that path, and pickles refer to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def _dataclass_repr(self: Any) -> str:
    cls = type(self)
    shown = ", ".join(
        f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr
    )
    return f"{cls.__module__}.{cls.__qualname__}({shown})"


def publish(module: str, *classes: type) -> None:
    """Set each class's ``__module__`` to ``module``, the package that exports it.

    A dataclass whose ``__repr__`` is the generated one gets the same repr under its public
    path (``omni_research.DataFile(path=...)``); a hand-written ``__repr__`` is kept.
    """
    for cls in classes:
        cls.__module__ = module
        generated = getattr(cls.__dict__.get("__repr__"), "__wrapped__", None) is not None
        if dataclasses.is_dataclass(cls) and generated:
            # dataclasses wraps its generated __repr__ in a recursion guard (functools.wraps)
            setattr(cls, "__repr__", _dataclass_repr)  # noqa: B010
