"""Doctests of the published classes still run, from the module that defines them.

``omni_research._public.publish`` sets a public class's ``__module__`` to the package that
exports it (``omni_research.Catalog``). The standard doctest finder then skips the class in
its defining module (``__module__`` differs) and its methods in the package (their globals
differ), so their examples would silently stop running. This finder counts a class as from
the module whose globals its own functions use.
"""

from __future__ import annotations

import doctest
import inspect
from types import ModuleType

_from_module = doctest.DocTestFinder._from_module


def _defined_in(self: doctest.DocTestFinder, module: ModuleType | None, obj: object) -> bool:
    if module is not None and inspect.isclass(obj):
        functions = [f for f in vars(obj).values() if inspect.isfunction(f)]
        if functions:
            return any(f.__globals__ is module.__dict__ for f in functions)
    return bool(_from_module(self, module, obj))  # type: ignore[attr-defined]


doctest.DocTestFinder._from_module = _defined_in  # type: ignore[attr-defined]
