"""Property tests of `run` against a plain reference loop (no fees: the definition itself)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_research.backtest import run

T0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)


def reference_equity(opens: list[float], closes: list[float], targets: list[float]) -> list[float]:
    """Units set to target x equity / open at the open after each target change.

    A change of direction closes first; an account with no equity left opens nothing.
    """
    cash, units, done, out = 10_000.0, 0.0, 0.0, []
    for t in range(len(opens)):
        want = targets[t - 1] if t > 0 else 0.0
        if want != done:
            price = opens[t]
            if units != 0 and (want == 0 or (want > 0) != (units > 0)):
                cash, units = cash + units * price, 0.0
            done = want
            equity = cash + units * price
            if want != 0 and equity > 0:
                new_units = want * equity / price
                cash -= (new_units - units) * price
                units = new_units
        out.append(cash + units * closes[t])
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.5, 2.0), st.floats(0.5, 2.0), st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0])
        ),
        min_size=2,
        max_size=40,
    )
)
def test_run_equity_matches_reference_loop(rows: list[tuple[float, float, float]]) -> None:
    opens = [100.0 * a for a, _, _ in rows]
    closes = [100.0 * b for _, b, _ in rows]
    targets = [s for *_, s in rows]
    bars = pl.DataFrame(
        {
            "timestamp": [T0 + dt.timedelta(minutes=i) for i in range(len(rows))],
            "symbol": "BTCUSDT",
            "open": opens,
            "close": closes,
            "sig": targets,
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
    res = run(bars, "sig")
    expected = reference_equity(opens, closes, targets)
    assert res.equity["equity"].to_list() == pytest.approx(expected, rel=1e-9, abs=1e-6)
    # Realised trade P&L plus the open trade's mark equals the equity change.
    assert res.trades["pnl"].sum() == pytest.approx(expected[-1] - 10_000, abs=1e-6)
    assert np.all(res.equity["drawdown"].to_numpy() <= 0)
