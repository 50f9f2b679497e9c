"""The one declaration per indicator (`_spec.IndicatorSpec`) and what is generated from it:
real functions with `ta`'s signatures, registry entries, parameter checks for every
parameter of every indicator, and `add_all_ta_features`' columns."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import ta

from omni_research import indicators as ind
from omni_research.exceptions import ConfigurationError
from omni_research.indicators._spec import IndicatorSpec, Param, specs

SPECS = list(specs().values())

# a value each kind of parameter must refuse
BAD: dict[str, list[Any]] = {
    "window": [0, -3, 2.5, True, "14", None],
    "count": [-1, 1.5],
    "integer": [1.5, "0", None],
    "number": ["0.02", float("nan"), float("inf"), None, True],
    "flag": [1, "yes", None],
    "optional_window": [-1, 2.5, "5"],
}

CASES = [
    (spec, out.function, param, bad)
    for spec in SPECS
    for out in spec.outputs
    for param in spec.output_params(out)
    for bad in BAD[param.kind]
]


@pytest.mark.parametrize(
    ("spec", "function", "param", "bad"),
    CASES,
    ids=[f"{f}-{p.name}-{b!r}" for _, f, p, b in CASES],
)
def test_every_parameter_of_every_function_is_checked(
    spec: IndicatorSpec, function: str, param: Param, bad: Any
) -> None:
    func = getattr(ind, function)
    match = rf"^{spec.name}: parameter '{param.name}' must be .*, got {inspect_repr(bad)}"
    with pytest.raises(ConfigurationError, match=match):
        func(**{param.name: bad})


def inspect_repr(value: Any) -> str:
    import re

    return re.escape(repr(value))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_generated_functions_are_real_functions_with_tas_signature(spec: IndicatorSpec) -> None:
    family = getattr(ta, spec.family)
    for out in spec.outputs:
        func = getattr(ind, out.function)
        assert inspect.isfunction(func), out.function
        assert func.__module__ == f"omni_research.indicators._{spec.family}"
        assert func.__doc__ and func.__doc__.strip(), out.function
        sig = inspect.signature(func)
        inputs = [p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_ONLY]
        options = [p for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
        assert inputs == list(spec.inputs)
        assert all(sig.parameters[c].default == c for c in inputs)
        # every option is one of `ta`'s (its function's, or its class's where `ta` has no
        # function for this output or the function omits a class parameter), with `ta`'s
        # default (ours alone: ta_compat, by)
        cls = inspect.signature(getattr(family, spec.ta_class)).parameters
        ta_func = getattr(family, out.function, None)
        own = {} if ta_func is None else dict(inspect.signature(ta_func).parameters)
        reference = {**cls, **own}
        for p in options:
            if p.name in ("ta_compat", "by"):
                continue
            assert p.name in reference, (out.function, p.name)
            assert p.default == reference[p.name].default, (out.function, p.name)
        # and every option of `ta`'s function is ours
        missing = set(own or cls) - set(sig.parameters)
        assert not missing, (out.function, missing)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_registry_entry_is_generated_from_the_declaration(spec: IndicatorSpec) -> None:
    entry = ind.get_indicator(spec.name)
    assert entry.inputs == spec.inputs
    assert entry.params == {p.name: p.default for p in spec.params}
    assert list(entry.outputs) == [o.key for o in spec.outputs]
    assert entry.ta_reference == f"ta.{spec.family}.{spec.ta_class}"
    assert entry.warmup(**entry.params) == spec.warmup(entry.params)
    # the registry's outputs take every parameter of the indicator (no adapters)
    for key, build in entry.outputs.items():
        expr = build(*spec.inputs, **entry.params)
        assert expr.meta.output_name(), key


def test_registry_output_still_refuses_an_unknown_parameter() -> None:
    with pytest.raises(TypeError, match="wnidow"):
        ind.get_indicator("macd").outputs["macd"]("close", wnidow=3)


def test_add_all_columns_come_from_the_declarations() -> None:
    declared = [f.column for s in SPECS for f in s.features]
    assert sorted(declared) == sorted(ind.TA_FEATURE_COLUMNS)
    assert len(declared) == len(set(declared)) == 86
