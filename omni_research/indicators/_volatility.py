"""`ta.volatility` as Polars expressions: ATR, Bollinger, Keltner, Donchian, Ulcer Index.

Every function mirrors the `ta` function of the same name (same inputs, parameters and
defaults, including `ta`'s functional defaults of ``window=10`` for the Donchian middle,
width and percent bands, and `ta`'s ``fillna``). Warm-up rows are null where `ta`
has NaN, and 0.0 where `ta` writes 0.0 (ATR, the band-crossing indicators). Each indicator
is declared once (`IndicatorSpec`); its functions, registry entry, parameter checks and
`add_all_ta_features` columns are generated from that declaration.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from omni_research.indicators._common import (
    By,
    ColumnLike,
    KernelResult,
    as_float,
    ema,
    gt,
    kernel_expr,
    lt,
)
from omni_research.indicators._spec import (
    Feature,
    IndicatorSpec,
    Output,
    Param,
    define,
    flag,
    number,
    register_spec,
    ta_fill,
    window,
)

_HLC = ("high", "low", "close")

# --------------------------------------------------------------------------- ATR


def _atr(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, *, window: int, by: By = None
) -> pl.Expr:
    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        return wilder.atr(h, lo, c, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close], by=by)


# --------------------------------------------------------------------------- Bollinger


def _mean_std(close: ColumnLike, window: int, *, by: By = None) -> pl.Expr:
    """Struct ``{mavg, std}`` of the close from one numba pass.

    Polars' rolling_mean + rolling_std take ~8x TA-Lib's time, and pandas' running sums
    (what `ta` uses) drift on long series; the kernel is exact and one pass. Polars does not
    share a Python UDF's result between expressions, so every output is derived inside this
    struct (``with_fields``), never from two references to the kernel.
    """

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_mean_std(x, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], outputs=("mavg", "std"), by=by, share=("bollinger", window))


def _bollinger_fields(close: ColumnLike, window_dev: float) -> dict[str, pl.Expr]:
    """Each Bollinger output in terms of the ``mavg``/``std`` struct fields."""
    c = as_float(close)
    mavg, mstd = pl.field("mavg"), pl.field("std")
    h = mavg + window_dev * mstd
    lo = mavg - window_dev * mstd
    return {
        "hband": h,
        "lband": lo,
        "wband": (h - lo) / mavg * 100,
        "pband": (c - lo) / pl.when(h != lo).then(h - lo).otherwise(float("nan")),
        # `ta` compares with NaN bands in warm-up rows: 0.0 there, not missing
        "hband_indicator": gt(c, h).cast(pl.Float64),
        "lband_indicator": lt(c, lo).cast(pl.Float64),
    }


def _partial_mean_std(close: ColumnLike, window: int) -> pl.Expr:
    """`ta`'s ``fillna=True`` Bollinger: mean and population std of the rows each window
    holds, from the first row (pandas' ``min_periods=0``), as a ``{mavg, std}`` struct."""
    c = as_float(close).fill_nan(None)
    return pl.struct(
        c.rolling_mean(window, min_samples=1).alias("mavg"),
        c.rolling_std(window, min_samples=1, ddof=0).alias("std"),
    )


def _bollinger(field: str) -> Callable[..., pl.Expr]:
    def build(
        close: ColumnLike, *, window: int, window_dev: float, fillna: bool, by: By
    ) -> pl.Expr:
        ms = _partial_mean_std(close, window) if fillna else _mean_std(close, window, by=by)
        if field == "mavg":
            return ms.struct.field("mavg")
        out = _bollinger_fields(close, window_dev)[field]
        return ms.struct.with_fields(_out=out).struct.field("_out")

    return build


def _bollinger_output(field: str, doc: str) -> Output:
    return Output(
        key=field,
        function=f"bollinger_{field}",
        build=_bollinger(field),
        by=True,
        doc=doc,
        fill="backfill" if field in ("mavg", "hband", "lband") else 0.0,
    )


BOLLINGER = register_spec(
    IndicatorSpec(
        name="bollinger",
        family="volatility",
        ta_class="BollingerBands",
        inputs=("close",),
        params=(window("window", 20), number("window_dev", 2)),
        outputs=(
            _bollinger_output(
                "mavg",
                """Bollinger middle band (simple moving average), as
    ``ta.volatility.bollinger_mavg``.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``bollinger_mavg``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import bollinger_hband, bollinger_mavg
    >>> df = pl.DataFrame({"close": [1.0, 2.0, 3.0, 5.0]})
    >>> df.select(bollinger_mavg(window=2), bollinger_hband(window=2))
    shape: (4, 2)
    ┌────────────────┬─────────────────┐
    │ bollinger_mavg ┆ bollinger_hband │
    │ ---            ┆ ---             │
    │ f64            ┆ f64             │
    ╞════════════════╪═════════════════╡
    │ null           ┆ null            │
    │ 1.5            ┆ 2.5             │
    │ 2.5            ┆ 3.5             │
    │ 4.0            ┆ 6.0             │
    └────────────────┴─────────────────┘
    """,
            ),
            _bollinger_output(
                "hband",
                """Upper Bollinger band ``mavg + window_dev * std`` (population std), as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_hband``.
    """,
            ),
            _bollinger_output(
                "lband",
                """Lower Bollinger band ``mavg - window_dev * std``, as
    ``ta.volatility.bollinger_lband``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_lband``.
    """,
            ),
            _bollinger_output(
                "wband",
                """Bollinger band width ``(hband - lband) / mavg * 100``, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_wband``.
    """,
            ),
            _bollinger_output(
                "pband",
                """Bollinger percent band ``(close - lband) / (hband - lband)``, as ``ta``.

    NaN where the bands coincide (a flat window), as in `ta`.

    Returns
    -------
    pl.Expr
        Named ``bollinger_pband``.
    """,
            ),
            _bollinger_output(
                "hband_indicator",
                """1.0 where the close is above the upper band, else 0.0 (also in warm-up rows, as
    `ta`).

    Returns
    -------
    pl.Expr
        Named ``bollinger_hband_indicator``.
    """,
            ),
            _bollinger_output(
                "lband_indicator",
                """1.0 where the close is below the lower band, else 0.0 (also in warm-up rows, as
    `ta`).

    Returns
    -------
    pl.Expr
        Named ``bollinger_lband_indicator``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Bollinger Bands: SMA +/- window_dev population standard deviations.",
        kernel="_kernels.rolling.rolling_mean_std",
        features=(
            Feature("volatility_bbm", "bollinger_mavg"),
            Feature("volatility_bbh", "bollinger_hband"),
            Feature("volatility_bbl", "bollinger_lband"),
            Feature("volatility_bbw", "bollinger_wband"),
            Feature("volatility_bbp", "bollinger_pband"),
            Feature("volatility_bbhi", "bollinger_hband_indicator"),
            Feature("volatility_bbli", "bollinger_lband_indicator"),
        ),
        fillna_inside=True,
    )
)


def bollinger_bands(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """All seven Bollinger outputs as one struct, computed in a single pass.

    Faster than selecting the seven ``bollinger_*`` functions (each runs its own pass).

    Returns
    -------
    pl.Expr
        A struct with fields ``mavg``, ``std`` (the rolling population std), ``hband``,
        ``lband``, ``wband``, ``pband``, ``hband_indicator``, ``lband_indicator``; named
        ``bollinger``. Use ``.struct.unnest()`` to get columns.
    """
    # hand-written (not generated): a struct of every output is not a `ta` function
    p = BOLLINGER.checked(window=window, window_dev=window_dev)
    return (
        _mean_std(close, p["window"], by=by)
        .struct.with_fields(**_bollinger_fields(close, p["window_dev"]))
        .alias("bollinger")
    )


# --------------------------------------------------------------------------- Keltner


def _keltner(field: str) -> Callable[..., pl.Expr]:
    """One Keltner output.

    Original version: one numba pass reproduces pandas' rolling means bit for bit, so the
    band flags (close above/below a band) decide exactly as `ta`, even where the close sits
    on a band (tick prices, flat stretches); the other outputs derive from its struct.
    """

    def build(
        high: ColumnLike,
        low: ColumnLike,
        close: ColumnLike,
        *,
        window: int,
        window_atr: int,
        original_version: bool,
        multiplier: float,
        fillna: bool,
    ) -> pl.Expr:
        c = as_float(close)
        # `ta`'s fillna=True starts the middle line at the first row (min_periods=1) and
        # fills the ATR
        first = 1 if fillna else -1
        if original_version:

            def run(h_: KernelResult, lo_: KernelResult, c_: KernelResult) -> KernelResult:
                from omni_research.indicators._kernels import rolling

                return rolling.keltner_original(h_, lo_, c_, window, first)  # type: ignore[no-any-return]

            bands = kernel_expr(run, [high, low, close], outputs=("mband", "hband", "lband"))
            mid, upper, lower = pl.field("mband"), pl.field("hband"), pl.field("lband")
        else:
            mid = ema(
                c.fill_nan(None), window, min_samples=1 if fillna else None, interior_nulls=True
            )
            atr = _atr(high, low, close, window=window_atr)
            if fillna:
                atr = ta_fill(atr, 0.0)
            upper = mid + multiplier * atr
            lower = mid - multiplier * atr
        exprs = {
            "mband": mid,
            "hband": upper,
            "lband": lower,
            "wband": (upper - lower) / mid * 100,
            "pband": (c - lower) / (upper - lower),
            # `ta` compares with NaN bands in warm-up rows: 0.0 there, not missing
            "hband_indicator": gt(c, upper).cast(pl.Float64),
            "lband_indicator": lt(c, lower).cast(pl.Float64),
        }
        if not original_version:
            return exprs[field]
        if field in ("mband", "hband", "lband"):
            return bands.struct.field(field)
        return bands.struct.with_fields(_out=exprs[field]).struct.field("_out")

    return build


def _keltner_output(field: str, doc: str) -> Output:
    return Output(
        key=field,
        function=f"keltner_channel_{field}",
        build=_keltner(field),
        doc=doc,
        fill="backfill" if field in ("mband", "hband", "lband") else 0.0,
    )


KELTNER_CHANNEL = register_spec(
    IndicatorSpec(
        name="keltner_channel",
        family="volatility",
        ta_class="KeltnerChannel",
        inputs=_HLC,
        params=(
            window("window", 20),
            window("window_atr", 10),
            flag("original_version", True),
            number("multiplier", 2),
        ),
        outputs=(
            _keltner_output(
                "mband",
                """Keltner channel middle line, as ``ta.volatility.keltner_channel_mband``.

    ``original_version=True``: SMA of the typical price; otherwise an EMA of the close.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_mband``.
    """,
            ),
            _keltner_output(
                "hband",
                """Keltner channel upper band, as ``ta.volatility.keltner_channel_hband``.

    Original version: SMA of ``(4H - 2L + C) / 3`` with no warm-up (`ta`'s
    ``min_periods=0``); otherwise ``EMA + multiplier * ATR(window_atr)``.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_hband``.
    """,
            ),
            _keltner_output(
                "lband",
                """Keltner channel lower band, as ``ta.volatility.keltner_channel_lband``.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_lband``.
    """,
            ),
            _keltner_output(
                "wband",
                """Keltner channel width ``(hband - lband) / mband * 100``, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_wband``.
    """,
            ),
            _keltner_output(
                "pband",
                """Keltner channel percent band ``(close - lband) / (hband - lband)``, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_pband``.
    """,
            ),
            _keltner_output(
                "hband_indicator",
                """1.0 where the close is above the upper Keltner band, else 0.0, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_hband_indicator``.
    """,
            ),
            _keltner_output(
                "lband_indicator",
                """1.0 where the close is below the lower Keltner band, else 0.0, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_lband_indicator``.
    """,
            ),
        ),
        warmup=lambda p: (
            p["window"] - 1 if p["original_version"] else max(p["window"], p["window_atr"]) - 1
        ),
        placement="overlay",
        description="Keltner Channel (ta's original typical-price version by default).",
        kernel="_kernels.rolling.keltner_original",
        features=tuple(
            Feature(f"volatility_{col}", f"keltner_channel_{field}", {"window": 10})
            for col, field in (
                ("kcc", "mband"),
                ("kch", "hband"),
                ("kcl", "lband"),
                ("kcw", "wband"),
                ("kcp", "pband"),
                ("kchi", "hband_indicator"),
                ("kcli", "lband_indicator"),
            )
        ),
        fillna_inside=True,
    )
)

# --------------------------------------------------------------------------- Donchian


def _donchian(field: str) -> Callable[..., pl.Expr]:
    """One Donchian output from the ``{hh, ll}`` struct of a single numba pass (rolling max
    and min together, ~5x faster than Polars' two rolling passes)."""

    def build(
        high: ColumnLike,
        low: ColumnLike,
        close: ColumnLike,
        *,
        window: int,
        offset: int,
        fillna: bool,
    ) -> pl.Expr:
        def run(h: KernelResult, lo: KernelResult) -> KernelResult:
            from omni_research.indicators._kernels import rolling

            return rolling.rolling_max_min(h, lo, window)  # type: ignore[no-any-return]

        if fillna:
            # `ta`'s fillna=True: windows from the first row (min_periods=1)
            ext = pl.struct(
                as_float(high).fill_nan(None).rolling_max(window, min_samples=1).alias("hh"),
                as_float(low).fill_nan(None).rolling_min(window, min_samples=1).alias("ll"),
            )
        else:
            ext = kernel_expr(run, [high, low], outputs=("hh", "ll"))
        hh, ll = pl.field("hh"), pl.field("ll")
        mavg = as_float(close).rolling_mean(window, min_samples=1 if fillna else window)
        derived: dict[str, pl.Expr] = {
            "mband": (hh - ll) / 2.0 + ll,
            "wband": (hh - ll) / mavg * 100,
            "pband": (as_float(close) - ll) / (hh - ll),
        }
        if field in ("hh", "ll"):
            out = ext.struct.field(field)
        else:
            out = ext.struct.with_fields(_out=derived[field]).struct.field("_out")
        # a negative offset shifts future values back (look-ahead), as `ta` allows
        return out.shift(offset) if offset != 0 else out

    return build


_DONCHIAN_DEFAULT_10 = {"window": 10}  # `ta`'s functional defaults (its class uses 20)

DONCHIAN_CHANNEL = register_spec(
    IndicatorSpec(
        name="donchian_channel",
        family="volatility",
        ta_class="DonchianChannel",
        inputs=_HLC,
        params=(window("window", 20), Param("offset", 0, "integer")),
        outputs=(
            Output(
                key="hband",
                function="donchian_channel_hband",
                fill="backfill",
                build=_donchian("hh"),
                doc="""Donchian upper band (rolling max of the high), as
    ``ta.volatility.donchian_channel_hband``.

    Returns
    -------
    pl.Expr
        Shifted by ``offset`` rows; named ``donchian_channel_hband``.
    """,
            ),
            Output(
                key="lband",
                function="donchian_channel_lband",
                fill="backfill",
                build=_donchian("ll"),
                doc="""Donchian lower band (rolling min of the low), as
    ``ta.volatility.donchian_channel_lband``.

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_lband``.
    """,
            ),
            Output(
                key="mband",
                function="donchian_channel_mband",
                fill="backfill",
                build=_donchian("mband"),
                defaults=_DONCHIAN_DEFAULT_10,
                doc="""Donchian middle band ``(hband - lband) / 2 + lband``, as `ta` (default
    ``window=10``,
    `ta`'s functional default; its class uses 20).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_mband``.
    """,
            ),
            Output(
                key="wband",
                function="donchian_channel_wband",
                build=_donchian("wband"),
                defaults=_DONCHIAN_DEFAULT_10,
                doc="""Donchian width ``(hband - lband) / SMA(close) * 100``, as `ta` (default
    ``window=10``).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_wband``.
    """,
            ),
            Output(
                key="pband",
                function="donchian_channel_pband",
                build=_donchian("pband"),
                defaults=_DONCHIAN_DEFAULT_10,
                doc="""Donchian percent band ``(close - lband) / (hband - lband)``, as `ta`
    (default 10).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_pband``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1 + max(p["offset"], 0),
        placement="overlay",
        description="Donchian Channel: rolling high/low range.",
        kernel="_kernels.rolling.rolling_max_min",
        features=tuple(
            Feature(f"volatility_{col}", f"donchian_channel_{field}", {"window": 20})
            for col, field in (
                ("dcl", "lband"),
                ("dch", "hband"),
                ("dcm", "mband"),
                ("dcw", "wband"),
                ("dcp", "pband"),
            )
        ),
        fillna_inside=True,
    )
)

# ATR's declaration comes after the channels: `ta.add_all_ta_features` adds it there
AVERAGE_TRUE_RANGE = register_spec(
    IndicatorSpec(
        name="average_true_range",
        family="volatility",
        ta_class="AverageTrueRange",
        inputs=_HLC,
        params=(window("window", 14),),
        outputs=(
            Output(
                key="average_true_range",
                function="average_true_range",
                build=_atr,
                by=True,
                doc="""Average True Range, as ``ta.volatility.average_true_range``.

    Wilder's average of the true range, seeded with the mean of the first ``window`` true
    ranges (TA-Lib seeds the same way but skips row 0, see docs). Rows before
    ``window - 1`` are **0.0**, as `ta` writes them. Runs one fused numba pass.

    Returns
    -------
    pl.Expr
        Named ``average_true_range``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import average_true_range
    >>> df = pl.DataFrame({"high": [3.0, 4, 5], "low": [1.0, 2, 2], "close": [2.0, 3, 4]})
    >>> df.select(average_true_range(window=2))
    shape: (3, 1)
    ┌────────────────────┐
    │ average_true_range │
    │ ---                │
    │ f64                │
    ╞════════════════════╡
    │ 0.0                │
    │ 2.0                │
    │ 2.5                │
    └────────────────────┘
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Average True Range (0.0 in warm-up rows, as ta).",
        kernel="_kernels.wilder.atr",
        features=(Feature("volatility_atr", "average_true_range", {"window": 10}),),
    )
)

# --------------------------------------------------------------------------- Ulcer


def _ulcer_index(close: ColumnLike, *, window: int, by: By) -> pl.Expr:
    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.ulcer_index(x, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by)


ULCER_INDEX = register_spec(
    IndicatorSpec(
        name="ulcer_index",
        family="volatility",
        ta_class="UlcerIndex",
        inputs=("close",),
        params=(window("window", 14),),
        outputs=(
            Output(
                key="ulcer_index",
                function="ulcer_index",
                build=_ulcer_index,
                by=True,
                doc="""Ulcer Index, as ``ta.volatility.ulcer_index``.

    Root mean square of the percent drawdown from the running ``window``-row maximum, in
    one numba pass. Windows of zero drawdown give exactly 0 as in `ta` (which sums each
    window afresh): a sliding sum's residue, magnified by the square root, would not.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``ulcer_index``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Ulcer Index: RMS drawdown from the rolling maximum.",
        kernel="_kernels.rolling.ulcer_index",
        features=(Feature("volatility_ui", "ulcer_index"),),
    )
)

# --------------------------------------------------------------------------- functions
# Typed ``Callable[..., pl.Expr]`` for mypy; their real signatures come from the specs.

average_true_range = define(AVERAGE_TRUE_RANGE, "average_true_range", globals())
bollinger_mavg = define(BOLLINGER, "bollinger_mavg", globals())
bollinger_hband = define(BOLLINGER, "bollinger_hband", globals())
bollinger_lband = define(BOLLINGER, "bollinger_lband", globals())
bollinger_wband = define(BOLLINGER, "bollinger_wband", globals())
bollinger_pband = define(BOLLINGER, "bollinger_pband", globals())
bollinger_hband_indicator = define(BOLLINGER, "bollinger_hband_indicator", globals())
bollinger_lband_indicator = define(BOLLINGER, "bollinger_lband_indicator", globals())
keltner_channel_mband = define(KELTNER_CHANNEL, "keltner_channel_mband", globals())
keltner_channel_hband = define(KELTNER_CHANNEL, "keltner_channel_hband", globals())
keltner_channel_lband = define(KELTNER_CHANNEL, "keltner_channel_lband", globals())
keltner_channel_wband = define(KELTNER_CHANNEL, "keltner_channel_wband", globals())
keltner_channel_pband = define(KELTNER_CHANNEL, "keltner_channel_pband", globals())
keltner_channel_hband_indicator = define(
    KELTNER_CHANNEL, "keltner_channel_hband_indicator", globals()
)
keltner_channel_lband_indicator = define(
    KELTNER_CHANNEL, "keltner_channel_lband_indicator", globals()
)
donchian_channel_hband = define(DONCHIAN_CHANNEL, "donchian_channel_hband", globals())
donchian_channel_lband = define(DONCHIAN_CHANNEL, "donchian_channel_lband", globals())
donchian_channel_mband = define(DONCHIAN_CHANNEL, "donchian_channel_mband", globals())
donchian_channel_wband = define(DONCHIAN_CHANNEL, "donchian_channel_wband", globals())
donchian_channel_pband = define(DONCHIAN_CHANNEL, "donchian_channel_pband", globals())
ulcer_index = define(ULCER_INDEX, "ulcer_index", globals())

__all__ = [
    "average_true_range",
    "bollinger_bands",
    "bollinger_hband",
    "bollinger_hband_indicator",
    "bollinger_lband",
    "bollinger_lband_indicator",
    "bollinger_mavg",
    "bollinger_pband",
    "bollinger_wband",
    "donchian_channel_hband",
    "donchian_channel_lband",
    "donchian_channel_mband",
    "donchian_channel_pband",
    "donchian_channel_wband",
    "keltner_channel_hband",
    "keltner_channel_hband_indicator",
    "keltner_channel_lband",
    "keltner_channel_lband_indicator",
    "keltner_channel_mband",
    "keltner_channel_pband",
    "keltner_channel_wband",
    "ulcer_index",
]
