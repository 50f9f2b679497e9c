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

import pytest
from _pytest.nodeid import NodeId

_from_module = doctest.DocTestFinder._from_module


def _defined_in(self: doctest.DocTestFinder, module: ModuleType | None, obj: object) -> bool:
    if module is not None and inspect.isclass(obj):
        functions = [f for f in vars(obj).values() if inspect.isfunction(f)]
        if functions:
            return any(f.__globals__ is module.__dict__ for f in functions)
    return bool(_from_module(self, module, obj))  # type: ignore[attr-defined]


doctest.DocTestFinder._from_module = _defined_in  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep ``--dist loadgroup`` grouping under pytest 9.2.

    pytest-xdist 3.8 marks an ``xdist_group`` by setting ``item._nodeid`` to
    ``"<nodeid>@<group>"``, but pytest 9.2 reads a node's id from ``item._id`` (a structured
    ``NodeId``), so the suffix was lost and every group was split across the workers (each
    worker then started its own servers and clusters). Copy the suffixed id where pytest
    reads it.
    """
    for item in items:
        marked = item.__dict__.get("_nodeid")
        if isinstance(marked, str) and marked != item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(marked)
