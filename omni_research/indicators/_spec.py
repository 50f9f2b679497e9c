"""One declaration per indicator, and everything generated from it.

An `IndicatorSpec` states an indicator once: its input columns, its parameters with `ta`'s
defaults and their checks, its outputs (each a `ta`-named function and the private builder
computing it), its warm-up, the `ta` class it mirrors and where a chart draws it. From that
declaration come:

* the public per-output functions (`define`): real functions with `ta`'s signature (inputs
  positional with the column names as defaults, parameters keyword-only), built from the
  declaration as source text so ``inspect.signature``, ``help`` and doctests see them as
  written functions; each checks its parameters before building its expression;
* the registry entry (`IndicatorSpec.indicator`), whose outputs take every parameter of the
  indicator and pass each output the ones it declares;
* the parameter checks (`Param.check`): a bad window names the indicator, the parameter,
  the value and what was expected, when the expression is built rather than deep inside
  ``collect``.

Typing: mypy sees each generated function as ``Callable[..., pl.Expr]`` (a static signature
would restate every parameter the declaration holds, which is what this module removes);
calls are checked when the expression is built instead: a wrong keyword raises
``TypeError`` from the real signature, a bad value ``ConfigurationError``.

Why source text and not a ``*args`` wrapper: a wrapper with a ``__signature__`` shows the
right signature but accepts any call until it checks by hand, and doctest finds only
functions whose globals are their module's. The generated ``def`` runs in the module that
declares it, so it is that module's function in every respect.
"""

from __future__ import annotations
import __future__

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.indicators._registry import Family, Indicator, Placement, register

ParamKind: TypeAlias = Literal["window", "count", "integer", "number", "flag", "optional_window"]
"""How a parameter is checked: ``window`` an integer >= 1, ``count`` an integer >= 0,
``integer`` any integer, ``number`` a finite real number, ``flag`` a bool,
``optional_window`` None or an integer >= 0 (0 meaning None, as in `ta`)."""

_ANNOTATION: dict[ParamKind, str] = {
    "window": "int",
    "count": "int",
    "integer": "int",
    "number": "float",
    "flag": "bool",
    "optional_window": "int | None",
}


@dataclass(frozen=True)
class Param:
    """One parameter: its name, `ta`'s default and how values are checked."""

    name: str
    default: Any
    kind: ParamKind

    @property
    def annotation(self) -> str:
        return _ANNOTATION[self.kind]

    def check(self, indicator: str, value: Any) -> Any:
        """``value`` if it is valid for this parameter, else ConfigurationError."""
        name = self.name
        if self.kind == "flag":
            if isinstance(value, bool):
                return value
            expected = "a bool (True or False)"
        elif self.kind == "number":
            real = isinstance(value, int | float) and not isinstance(value, bool)
            if real and math.isfinite(value):
                return value
            expected = "a finite number"
        elif self.kind == "optional_window" and value is None:
            return value
        else:
            is_int = isinstance(value, int) and not isinstance(value, bool)
            # `ta` reads an optional window of 0 as None (``if smoothing_factor:``)
            minimum = {"window": 1, "optional_window": 0, "count": 0}.get(self.kind)
            if is_int and (minimum is None or value >= minimum):
                return value
            if minimum is None:
                expected = "an integer"
            else:
                # "<name> must be >= <minimum>" is the phrase callers (and tests) grep for
                none = " or None" if self.kind == "optional_window" else ""
                expected = f"an integer{none}; {name} must be >= {minimum}"
        raise ConfigurationError(
            f"{indicator}: parameter {name!r} must be {expected}, got {value!r}; "
            f"pass e.g. {name}={self.default!r}"
        )


def window(name: str, default: int | None) -> Param:
    """A window length (an integer >= 1)."""
    return Param(name, default, "window")


def number(name: str, default: float) -> Param:
    """A real-valued parameter (a constant, a multiplier, a step)."""
    return Param(name, default, "number")


def flag(name: str, default: bool) -> Param:
    """A boolean option."""
    return Param(name, default, "flag")


FILLNA = flag("fillna", False)
"""`ta`'s ``fillna``, which every `ta` function takes and every indicator here accepts (it
is added to each declaration's parameters, after them): infinities become missing, each
missing value takes the previous one, and what is still missing at the start takes the
output's fill value (`Output.fill`). Where `ta` also shortens its warm-up with it (windows
and EWMs with ``min_periods=0``), the builder receives ``fillna`` too (`IndicatorSpec.
fillna_inside`) and does the same."""

TA_COMPAT = flag("ta_compat", False)
"""Reproduce `ta`'s look-ahead (whole-series means in warm-up rows); see docs/indicators.md."""


@dataclass(frozen=True, kw_only=True)
class Output:
    """One output of an indicator and the `ta`-named function that computes it.

    ``build(*inputs, **params)`` returns the output's expression (aliased by `define`);
    it receives exactly the parameters named in ``params`` (all of the indicator's when
    None), already checked, plus ``by`` when ``by`` is True and ``fillna`` when the
    indicator's ``fillna_inside`` is. ``fill`` is `ta`'s fill value for ``fillna=True``:
    a number, ``"backfill"`` (`ta`'s -1: the first value fills the start), ``"close"``
    (the close column, row by row: KAMA), or None (`ta` applies no final fill).
    ``defaults`` overrides the indicator's defaults in this function's signature (`ta`'s
    functional defaults differ from its class defaults in a few places). ``alias`` names
    the expression (the function name when None; a callable receives the parameters).
    """

    key: str
    function: str
    build: Callable[..., pl.Expr]
    doc: str
    params: tuple[str, ...] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    by: bool = False
    alias: str | Callable[..., str] | None = None
    fill: float | Literal["backfill", "close"] | None = 0.0


@dataclass(frozen=True)
class Feature:
    """One column of ``ta.add_all_ta_features``: the output function and the parameters
    `ta` passes it there (only those differing from the indicator's defaults). ``after``
    places the column after another indicator's column (`ta` adds the visual Ichimoku
    spans after CCI); by default it follows the previous feature."""

    column: str
    function: str
    params: Mapping[str, Any] = field(default_factory=dict)
    after: str | None = None


@dataclass(frozen=True, kw_only=True)
class IndicatorSpec:
    """The one declaration of an indicator (see the module docstring)."""

    name: str
    family: Family
    ta_class: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[Output, ...]
    warmup: Callable[[Mapping[str, Any]], int]
    placement: Placement = "panel"
    description: str = ""
    kernel: str = ""
    features: tuple[Feature, ...] = ()
    fillna_inside: bool = False

    def param(self, name: str) -> Param:
        for p in (*self.params, FILLNA):
            if p.name == name:
                return p
        raise KeyError(name)

    def output(self, function: str) -> Output:
        for o in self.outputs:
            if o.function == function:
                return o
        raise KeyError(function)

    def checked(self, **params: Any) -> dict[str, Any]:
        """``params`` checked (for the hand-written functions returning several outputs)."""
        return {name: self.param(name).check(self.name, v) for name, v in params.items()}

    @property
    def defaults(self) -> dict[str, Any]:
        """The declared parameters' defaults (``fillna``, which every output takes, is not
        listed: charts and widgets show an indicator's own parameters)."""
        return {p.name: p.default for p in self.params}

    def output_params(self, out: Output) -> tuple[Param, ...]:
        names = [p.name for p in self.params] if out.params is None else list(out.params)
        return (*(self.param(n) for n in names), FILLNA)

    def call(self, function: str, columns: tuple[Any, ...], params: dict[str, Any]) -> pl.Expr:
        """The body of every generated function: check, build, name."""
        out = self.output(function)
        checked = {
            name: (self.param(name).check(self.name, v) if name != "by" else v)
            for name, v in params.items()
        }
        fillna = checked.pop("fillna", False)
        if self.fillna_inside:
            checked["fillna"] = fillna
        by = checked.get("by")
        if fillna and by is not None:
            # `ta`'s fillna path is written for one series (partial windows as Polars
            # expressions): per group it runs under ``.over(by)``, the same numbers
            checked["by"] = None
        expr = out.build(*columns, **checked)
        if fillna and out.fill is not None:
            close = columns[self.inputs.index("close")] if out.fill == "close" else None
            expr = ta_fill(expr, out.fill, close=close)
        if fillna and by is not None:
            expr = expr.over(by)
        if out.alias is None:
            return expr.alias(out.function)
        if isinstance(out.alias, str):
            return expr.alias(out.alias)
        return expr.alias(out.alias(**checked))

    def indicator(self) -> Indicator:
        """The registry entry: outputs take every parameter and pass each its own."""
        defaults = self.defaults

        def warmup(**params: Any) -> int:
            return self.warmup({**defaults, **params})

        return Indicator(
            name=self.name,
            family=self.family,
            inputs=self.inputs,
            params=defaults,
            outputs={o.key: self._registry_output(o) for o in self.outputs},
            warmup=warmup,
            ta_reference=f"ta.{self.family}.{self.ta_class}",
            placement=self.placement,
            description=self.description,
            extra={"kernel": self.kernel} if self.kernel else {},
        )

    def feature_expr(
        self, feature: Feature, columns: Mapping[str, pl.Expr], *, ta_compat: bool
    ) -> pl.Expr:
        """``feature``'s expression on ``columns`` (input name -> expression), as
        ``ta.add_all_ta_features`` computes it; ``ta_compat`` goes to outputs taking it."""
        out = self.output(feature.function)
        params = dict(feature.params)
        if any(p.name == "ta_compat" for p in self.output_params(out)):
            params["ta_compat"] = ta_compat
        inputs = tuple(columns[name] for name in self.inputs)
        return self.call(out.function, inputs, self._with_defaults(out, params))

    def _registry_output(self, out: Output) -> Callable[..., pl.Expr]:
        own = {p.name for p in self.output_params(out)} | ({"by"} if out.by else set())
        others = set(self.defaults) - own

        def build(*columns: Any, **params: Any) -> pl.Expr:
            # parameters of the indicator this output does not take are dropped; anything
            # else goes through, so a misspelt parameter still raises TypeError
            kept = {k: v for k, v in params.items() if k not in others}
            return self.call(out.function, columns or self.inputs, self._with_defaults(out, kept))

        build.__name__ = build.__qualname__ = out.function
        build.__doc__ = out.doc
        return build

    def _with_defaults(self, out: Output, params: dict[str, Any]) -> dict[str, Any]:
        unknown = set(params) - {p.name for p in self.output_params(out)} - {"by"}
        if unknown or ("by" in params and not out.by):
            bad = sorted(unknown | ({"by"} if "by" in params and not out.by else set()))
            raise TypeError(f"{out.function}() got unexpected keyword argument(s) {bad}")
        full = {p.name: out.defaults.get(p.name, p.default) for p in self.output_params(out)}
        if out.by:
            full["by"] = None
        full.update(params)
        return full


def define(spec: IndicatorSpec, function: str, namespace: dict[str, Any]) -> Callable[..., pl.Expr]:
    """The public function ``function`` of ``spec``, defined in the module whose globals are
    ``namespace`` (pass ``globals()``), with `ta`'s signature and the output's docstring."""
    out = spec.output(function)
    inputs = [f"{col}: ColumnLike = {col!r}" for col in spec.inputs]
    options = []
    for p in spec.output_params(out):
        default = out.defaults.get(p.name, p.default)
        options.append(f"{p.name}: {p.annotation} = {default!r}")
    if out.by:
        options.append("by: By = None")
    names = [p.name for p in spec.output_params(out)] + (["by"] if out.by else [])
    params = ", ".join(f"{n!r}: {n}" for n in names)
    columns = "".join(f"{col}, " for col in spec.inputs)
    signature = ", ".join(inputs) + ", /" + (", *, " + ", ".join(options) if options else "")
    source = (
        f"def {function}({signature}) -> pl.Expr:\n"
        f"    return _DECLARED[{spec.name!r}].call({function!r}, ({columns}), {{{params}}})\n"
    )
    declared: dict[str, IndicatorSpec] = namespace.setdefault("_DECLARED", {})
    declared[spec.name] = spec
    # annotations stay strings, as in the modules (``from __future__ import annotations``)
    flags = __future__.annotations.compiler_flag
    code = compile(source, f"<{spec.name}.{function}>", "exec", flags=flags, dont_inherit=True)
    exec(code, namespace)
    func: Callable[..., pl.Expr] = namespace[function]
    func.__doc__ = out.doc
    return func


def ta_fill(
    expr: pl.Expr, fill: float | Literal["backfill", "close"], *, close: Any = None
) -> pl.Expr:
    """`ta`'s ``_check_fillna``: infinities become missing, missing values take the previous
    value, and the leading ones ``fill`` (a number, the first value, or the ``close``
    expression row by row). Per group it runs under ``.over`` (see `IndicatorSpec.call`)."""
    from omni_research.indicators._common import KernelResult, kernel_expr

    def run(x: KernelResult, *rest: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels.rolling import forward_fill

        value = np.nan if isinstance(fill, str) else float(fill)
        filled = forward_fill(x, value, fill == "backfill")
        if rest:
            filled = np.where(np.isnan(filled), rest[0], filled)
        return filled

    inputs = [expr] if close is None else [expr, close]
    return kernel_expr(run, inputs)


_SPECS: dict[str, IndicatorSpec] = {}


def register_spec(spec: IndicatorSpec) -> IndicatorSpec:
    """Add ``spec`` and its registry entry (names are unique) and return the spec."""
    register(spec.indicator())
    _SPECS[spec.name] = spec
    return spec


def specs() -> dict[str, IndicatorSpec]:
    """Every declared indicator by name, in declaration order."""
    return dict(_SPECS)
