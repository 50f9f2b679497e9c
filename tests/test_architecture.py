"""The package's shape: no import cycle, no private name borrowed across features.

Every module of ``omni_research`` is parsed (``ast``, no import), and every import is
read, including those inside functions (which would otherwise hide a cycle) and those
under ``if TYPE_CHECKING:`` (an annotation-only cycle is still a cycle in the design).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import omni_research

PACKAGE = "omni_research"
ROOT = Path(omni_research.__file__).parent

# (importing module, imported module, name): private names a module may take from another
# feature's private module. Keep it short; each entry says why.
# Empty today: every cross-feature import uses a public name.
ALLOWED_PRIVATE: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    module: str  # dotted module imported from
    names: tuple[str, ...]  # names taken from it (empty for ``import x``)
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(name: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):  # every level: module, function, class, if-blocks
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE):
                    yield Import(name, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, is_package, node)
            if module.split(".")[0] == PACKAGE:
                yield Import(name, module, tuple(a.name for a in node.names), node.lineno)


def _graph() -> dict[str, set[str]]:
    """Module -> modules it imports (``from pkg import sub`` counts as importing ``sub``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for imp in _imports(name, path):
            subs = {f"{imp.module}.{n}" for n in imp.names} & modules.keys()
            targets = set(subs)
            # ``from pkg import sub`` runs ``sub``; only a name that is not a submodule
            # comes from ``pkg`` itself (a parent package runs first anyway, as for any
            # ``import pkg.sub``, which is the normal shape, not a cycle)
            if imp.module in modules and (len(subs) < len(imp.names) or not imp.names):
                targets.add(imp.module)
            graph[name] |= {t for t in targets if t != name}
    return graph


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a list.

    Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, but a package's
    ``__init__`` importing its own submodules is the normal shape and is not a cycle by
    itself, so only the edges written in the code are followed.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _feature(module: str) -> str:
    """The feature a module belongs to: its first level under the package
    (``omni_research.indicators._common`` -> ``omni_research.indicators``; a top-level
    module such as ``omni_research.bars`` or ``omni_research._time`` is its own feature)."""
    return ".".join(module.split(".")[:2])


def _is_inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _borrowed_private_names(modules: dict[str, Path] | None = None) -> list[str]:
    """Imports of a private name (``_x``) from a module of another feature.

    A private name is free to be used inside its feature (``indicators._all`` may use
    ``indicators._common._anything``); outside, only names not marked private, from any
    module. The bottom layers (``omni_research._time``, ``omni_research._segments``,
    ``omni_research._typing``) are features of their own, used by their public names.
    Importing a private *submodule* (``from pkg import _mod``) is not a private name.
    """
    modules = _modules() if modules is None else modules
    found = []
    for name, path in modules.items():
        for imp in _imports(name, path):
            if _feature(imp.module) == _feature(name):
                continue
            for n in imp.names:
                if not n.startswith("_") or f"{imp.module}.{n}" in modules:
                    continue
                if (name, imp.module, n) in ALLOWED_PRIVATE:
                    continue
                found.append(f"{name}:{imp.line} imports {n} from {imp.module}")
    return found


def test_every_module_is_parsed() -> None:
    graph = _graph()
    assert "omni_research.bars" in graph
    assert "omni_research._time" in graph
    assert "omni_research._segments._groups" in graph
    # a function-level import is seen: bars reaches the segments inside resample_ohlcv
    assert "omni_research._segments" in graph["omni_research.bars"]


def test_no_import_cycle_in_the_package() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (module groups that import each other):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_private_name_borrowed_from_another_features_private_module() -> None:
    found = _borrowed_private_names()
    assert not found, "private names used outside their package:\n" + "\n".join(found)


def test_allow_list_entries_still_exist() -> None:
    modules = _modules()
    for importer, module, name in ALLOWED_PRIVATE:
        imports = list(_imports(importer, modules[importer])) if importer in modules else []
        assert any(i.module == module and name in i.names for i in imports), (
            f"stale allow-list entry: {importer} no longer imports {name} from {module}"
        )


def test_bottom_layers_import_no_feature() -> None:
    """``_time`` and ``_segments`` are the bottom: they import only each other (segments
    on time), exceptions and typing aliases."""
    graph = _graph()
    bottom = ("omni_research._time", "omni_research._segments")
    allowed = {"omni_research._typing", "omni_research.exceptions", *bottom}
    for module, targets in graph.items():
        if any(_is_inside(module, b) for b in bottom):
            bad = {t for t in targets if not any(_is_inside(t, a) for a in allowed)}
            assert not bad, f"{module} imports {sorted(bad)} from above the bottom layer"
    assert not any(
        _is_inside(t, "omni_research._segments") for t in graph["omni_research._time"]
    ), "time is below segments"


# --------------------------------------------------------------------------- the checker


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
    ],
)
def test_cycle_finder_on_small_graphs(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert _cycles(graph) == expected


def test_function_level_and_relative_imports_are_read(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text(
        "def f():\n    from omni_research.bars import _hidden\n"
        "from .sibling import x\nimport omni_research._time\n"
    )
    found = sorted((i.module, i.names) for i in _imports("omni_research.sub.mod", src))
    assert found == [
        ("omni_research._time", ()),
        ("omni_research.bars", ("_hidden",)),
        ("omni_research.sub.sibling", ("x",)),
    ]


def test_borrowed_private_name_is_found(tmp_path: Path) -> None:
    # the shape issue 10 removed: quality borrowing bars' private duration helper
    quality = tmp_path / "quality.py"
    quality.write_text("def f():\n    from omni_research.bars import _duration_expr\n")
    same = tmp_path / "same.py"
    same.write_text("from omni_research.indicators._common import _to_numpy\n")
    modules = {"omni_research.quality": quality, "omni_research.indicators._all": same}
    assert _borrowed_private_names(modules) == [
        "omni_research.quality:2 imports _duration_expr from omni_research.bars"
    ]


def test_private_rule_on_examples() -> None:
    assert _feature("omni_research.indicators._common") == "omni_research.indicators"
    assert _feature("omni_research._segments._runs") == "omni_research._segments"
    assert _feature("omni_research.bars") == "omni_research.bars"
    assert _feature("omni_research") == "omni_research"
    assert _is_inside("omni_research.indicators._all", "omni_research.indicators")
    assert not _is_inside("omni_research.quality", "omni_research.indicators")


def test_nothing_imports_the_cli_and_analysis_never_opens_the_catalog() -> None:
    """The CLI is the top; bars, order books, quality and indicators take frames, never a
    catalog (the CLI and the report open one on the user's behalf)."""
    graph = _graph()
    for module, targets in graph.items():
        if not _is_inside(module, "omni_research.cli"):
            assert not any(_is_inside(t, "omni_research.cli") for t in targets), module
    analysis = (
        "omni_research.bars",
        "omni_research.orderbook",
        "omni_research.quality",
        "omni_research.indicators",
    )
    for module, targets in graph.items():
        if any(_is_inside(module, a) for a in analysis):
            opened = {t for t in targets if t in ("omni_research", "omni_research._catalog")}
            if module in CATALOG_JOBS:
                opened -= {"omni_research._catalog"}
            assert not opened, f"{module} imports {sorted(opened)}"


# Catalog-wide jobs (issue 12): their shards run on other processes or Ray nodes and are
# handed a data root's path, never data, so each shard opens the catalog itself (guard,
# checksums, validation and audit on the worker). Only these modules, and only _catalog.
CATALOG_JOBS: dict[str, str] = {
    "omni_research.indicators._materialize": "materialize's shards open the root they get",
    "omni_research.quality._catalog_job": "quality_catalog's shards open the root they get",
}


def test_catalog_job_exceptions_still_exist() -> None:
    graph = _graph()
    for module in CATALOG_JOBS:
        assert "omni_research._catalog" in graph.get(module, set()), f"stale entry {module}"
