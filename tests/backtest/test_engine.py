"""`run`: hand-computed accounts, properties, and the backtesting.py cross-check."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import polars as pl
import pytest

from omni_research._typing import Execution
from omni_research.backtest import BacktestResult, Fees, run
from omni_research.exceptions import ConfigurationError, DataFormatError

T0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)


def make_bars(
    opens: list[float], closes: list[float], *, symbol: str = "BTCUSDT", step: str = "1h"
) -> pl.DataFrame:
    n = len(opens)
    every = {"1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1)}[step]
    return pl.DataFrame(
        {
            "timestamp": [T0 + i * every for i in range(n)],
            "symbol": symbol,
            "open": opens,
            "high": [max(o, c) for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) for o, c in zip(opens, closes, strict=True)],
            "close": closes,
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


def random_bars(n: int, *, seed: int, symbol: str = "BTCUSDT") -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    return make_bars(opens.tolist(), close.tolist(), symbol=symbol)


@pytest.mark.parametrize("lazy", [False, True])
def test_run_long_next_open_matches_hand_computed_account(lazy: bool) -> None:
    bars = make_bars([100.0, 100.0, 110.0, 120.0], [100.0, 110.0, 120.0, 121.0])
    data = bars.lazy() if lazy else bars
    res = run(data, pl.lit(1.0), fee=0.001)
    qty = 10_000 / (100 * 1.001)  # all of the cash, fee included, bought at bar 1's open
    cash = 10_000 - qty * 100 - qty * 100 * 0.001
    assert cash == pytest.approx(0.0, abs=1e-9)
    expected = [10_000, cash + qty * 110, cash + qty * 120, cash + qty * 121]
    assert res.equity["equity"].to_list() == pytest.approx(expected, rel=1e-12)
    assert res.positions["size"].to_list() == pytest.approx([0, qty, qty, qty])
    trade = res.trades.row(0, named=True)
    assert trade["is_open"] and trade["entry_time"] == T0 + dt.timedelta(hours=1)
    assert trade["size"] == pytest.approx(qty)
    assert trade["pnl"] == pytest.approx(qty * (121 - 100) - qty * 100 * 0.001)
    peak = np.maximum.accumulate(expected)
    assert res.equity["drawdown"].to_list() == pytest.approx(list(np.array(expected) / peak - 1))


def test_run_short_at_close_matches_hand_computed_account() -> None:
    bars = make_bars([100.0, 100.0, 90.0, 80.0], [100.0, 95.0, 90.0, 85.0])
    # An all-null signal holds the starting flat target: nothing trades.
    assert run(bars, pl.lit(None), execution="close").trades.height == 0
    bars = bars.with_columns(sig=pl.Series([-1.0, -1.0, 0.0, 0.0]))
    res = run(bars, "sig", execution="close", fee=0.002, slippage=0.001)
    fill = 100 * (1 - 0.001)  # a sell receives the close minus slippage
    qty = 10_000 / (fill * 1.002)
    cash = 10_000 + qty * fill - qty * fill * 0.002
    buy_back = 90 * (1 + 0.001)
    cash_end = cash - qty * buy_back - qty * buy_back * 0.002
    assert res.equity["equity"].to_list() == pytest.approx(
        [cash - qty * 100, cash - qty * 95, cash_end, cash_end], rel=1e-12
    )
    trade = res.trades.row(0, named=True)
    assert trade["size"] == pytest.approx(-qty)
    assert (trade["entry_price"], trade["exit_price"]) == pytest.approx((fill, buy_back))
    assert trade["fees"] == pytest.approx(qty * fill * 0.002 + qty * buy_back * 0.002)
    assert trade["pnl"] == pytest.approx(cash_end - 10_000)
    assert trade["return"] == pytest.approx((cash_end - 10_000) / (qty * fill))
    assert trade["bars_held"] == 2 and not trade["is_open"]


def test_run_fractional_exposure_scales_in_and_reduces_fifo_average() -> None:
    opens = [100.0, 100.0, 110.0, 120.0, 130.0, 125.0]
    closes = [100.0, 105.0, 115.0, 125.0, 128.0, 126.0]
    bars = make_bars(opens, closes).with_columns(sig=pl.Series([0.5, 0.5, 1.0, 0.25, 0.25, 0.25]))
    res = run(bars, "sig")
    q1 = 0.5 * 10_000 / 100  # bar 1 open
    cash = 10_000 - q1 * 100
    e3 = cash + q1 * 120  # bar 3 open: target 1.0 decided at bar 2
    q3 = e3 / 120
    cash -= (q3 - q1) * 120
    avg = (q1 * 100 + (q3 - q1) * 120) / q3
    e4 = cash + q3 * 130  # bar 4 open: reduce to 0.25
    q4 = 0.25 * e4 / 130
    trades = res.trades
    assert trades.height == 2
    part = trades.row(0, named=True)
    assert part["size"] == pytest.approx(q3 - q4)
    assert part["entry_price"] == pytest.approx(avg)
    assert part["exit_price"] == 130
    assert part["entry_time"] == T0 + dt.timedelta(hours=1)
    rest = trades.row(1, named=True)
    assert rest["is_open"] and rest["size"] == pytest.approx(q4)
    assert res.positions["size"].to_list() == pytest.approx([0, q1, q1, q3, q4, q4])


def test_run_whole_units_floor_the_count_after_fees() -> None:
    bars = make_bars([100.0, 333.0, 340.0], [100.0, 335.0, 341.0])
    res = run(bars, pl.lit(1.0), units="whole", fee=0.01)
    assert res.trades["size"].to_list() == [math.floor(10_000 / (333 * 1.01))]


def test_run_funding_charges_the_position_held_at_the_funding_time() -> None:
    bars = make_bars([100.0] * 4, [100.0] * 4)
    funding = pl.DataFrame(
        {
            "timestamp": [T0 + dt.timedelta(hours=h) for h in (0, 2)] + [T0 + dt.timedelta(days=3)],
            "symbol": "BTCUSDT",
            "funding_rate": [0.01, 0.001, 0.5],
            "mark_price": [100.0, 101.0, 100.0],
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
    long_ = run(bars, pl.lit(1.0), funding=funding)
    short = run(bars, pl.lit(-1.0), funding=funding)
    qty = 10_000 / 100
    # The 00:00 event is before the first fill (bar 1's open): nothing owed; the 02:00 event
    # is owed by the position; the event three days later is outside the data.
    assert long_.equity["equity"][-1] == pytest.approx(10_000 - qty * 101 * 0.001)
    assert short.equity["equity"][-1] == pytest.approx(10_000 + qty * 101 * 0.001)
    assert long_.trades["funding"][0] == pytest.approx(qty * 101 * 0.001)
    assert long_.stats()["funding"] == pytest.approx(qty * 101 * 0.001)


def test_run_portfolio_with_fixed_notional_equals_sum_of_single_runs() -> None:
    a = random_bars(300, seed=1, symbol="BTCUSDT")
    b = random_bars(300, seed=2, symbol="ETHUSDT").filter(pl.int_range(pl.len()) % 7 != 3)
    sig = pl.when(pl.col("close") > pl.col("close").rolling_mean(12)).then(1.0).otherwise(-0.5)
    opts = {"sizing": "notional", "size": 2_000.0, "fee": 0.0005}
    both = run(pl.concat([a, b]), sig, **opts)  # type: ignore[arg-type]
    alone = [run(x, sig, **opts) for x in (a, b)]  # type: ignore[arg-type]
    pnl_both = both.equity["equity"][-1] - 10_000
    assert pnl_both == pytest.approx(sum(r.equity["equity"][-1] - 10_000 for r in alone))
    cols = ["symbol", "entry_time", "exit_time", "size", "entry_price", "exit_price"]
    expected = pl.concat([r.trades for r in alone]).select(cols).sort("symbol", "entry_time")
    got = both.trades.select(cols).sort("symbol", "entry_time")
    assert got.equals(expected)


def test_run_portfolio_splits_equity_between_symbols() -> None:
    a = make_bars([100.0, 100.0, 100.0], [100.0, 100.0, 100.0], symbol="AAA")
    b = make_bars([50.0, 40.0, 40.0], [50.0, 40.0, 40.0], symbol="BBB")
    res = run(pl.concat([a, b]), pl.lit(1.0))
    sizes = dict(res.trades.select("symbol", "size").iter_rows())
    assert sizes == pytest.approx({"AAA": 5_000 / 100, "BBB": 5_000 / 40})
    assert res.positions.columns == ["timestamp", "symbol", "size", "price", "value"]


def test_run_never_uses_bars_after_the_decision() -> None:
    bars = random_bars(400, seed=5)
    sig = pl.when(pl.col("close") > pl.col("close").rolling_mean(20)).then(1.0).otherwise(-1.0)
    full = run(bars, sig, fee=0.001)
    k = 250
    changed = bars.with_columns(
        pl.when(pl.int_range(pl.len()) >= k).then(pl.col(c) * 1.7).otherwise(pl.col(c))
        for c in ("open", "close")
    )
    other = run(changed, sig, fee=0.001)
    # With next-open execution, bar k's prices first matter at bar k (its open fills orders).
    assert other.equity["equity"][:k].to_list() == full.equity["equity"][:k].to_list()
    cut = bars["timestamp"][k]
    keep = pl.col("exit_time") < cut
    assert other.trades.filter(keep).equals(full.trades.filter(keep))


def test_run_maker_fee_option_uses_the_maker_rate() -> None:
    bars = make_bars([100.0, 100.0, 100.0], [100.0, 100.0, 100.0])
    maker = run(bars, pl.lit(1.0), fee=Fees(maker=0.0002, taker=0.00055, liquidity="maker"))
    plain = run(bars, pl.lit(1.0), fee=0.0002)
    assert maker.equity.equals(plain.equity)
    assert maker.stats()["fees"] == pytest.approx(10_000 / 1.0002 * 0.0002)


def test_run_missing_columns_raise_format_error() -> None:
    bars = make_bars([1.0, 2.0], [1.0, 2.0]).drop("open")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['open'\]"):
        run(bars, pl.lit(1.0))


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"fee": -0.1}, "fee must be"),
        ({"units": "lots"}, "units must be"),
        ({"execution": "vwap"}, "execution must be"),
        ({"cash": 0}, "cash must be"),
    ],
)
def test_run_bad_options_raise_configuration_error(option: dict[str, object], match: str) -> None:
    bars = make_bars([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ConfigurationError, match=match):
        run(bars, pl.lit(1.0), **option)  # type: ignore[arg-type]


def test_run_bad_signal_expression_raises_configuration_error() -> None:
    bars = make_bars([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ConfigurationError, match="could not evaluate the signal"):
        run(bars, pl.col("nope"))


def test_run_duplicate_bars_raise_format_error() -> None:
    bars = make_bars([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(DataFormatError, match="duplicate timestamps"):
        run(pl.concat([bars, bars]), pl.lit(1.0))


def _goog_bars() -> pl.DataFrame:
    from backtesting.test import GOOG

    return (
        pl.from_pandas(GOOG.reset_index())
        .rename(
            {
                "index": "timestamp",
                "Open": "open",
                "High": "high",
                "Low": "low",
                "Close": "close",
                "Volume": "volume",
            }
        )
        .with_columns(
            pl.col("timestamp").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            symbol=pl.lit("GOOG"),
        )
    )


def _backtesting_sma_cross(*, trade_on_close: bool) -> object:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCross(Strategy):  # type: ignore[misc]
        n1 = 10
        n2 = 20

        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, self.n1)
            self.slow = self.I(SMA, self.data.Close, self.n2)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.sell()

    with warnings.catch_warnings():
        # backtesting.py warns that the last trade is still open, and its progress bar
        # may warn about the terminal; neither is about the result.
        warnings.simplefilter("ignore")
        return Backtest(
            GOOG,
            SmaCross,
            cash=10_000,
            commission=0.002,
            exclusive_orders=True,
            trade_on_close=trade_on_close,
        ).run()


@pytest.mark.parametrize(("execution", "trade_on_close"), [("next_open", False), ("close", True)])
def test_run_sma_cross_on_goog_matches_backtesting_py(
    execution: Execution, trade_on_close: bool
) -> None:
    stats = _backtesting_sma_cross(trade_on_close=trade_on_close)
    ref = stats._trades  # type: ignore[attr-defined]
    fast = pl.col("close").rolling_mean(10)
    slow = pl.col("close").rolling_mean(20)
    # backtesting.lib.crossover: previous bar strictly below, current strictly above.
    up = (fast.shift(1) < slow.shift(1)) & (fast > slow)
    down = (slow.shift(1) < fast.shift(1)) & (slow > fast)
    signal = pl.when(up).then(1.0).when(down).then(-1.0).otherwise(None)
    res = run(
        _goog_bars(),
        signal,
        execution=execution,
        units="whole",
        size=1.0,
        fee=0.002,
        cash=10_000,
    )
    assert isinstance(res, BacktestResult)
    closed = res.trades.filter(~pl.col("is_open"))
    assert closed.height == len(ref) > 50
    assert closed["size"].to_list() == ref["Size"].tolist()
    assert closed["entry_price"].to_numpy() == pytest.approx(ref["EntryPrice"].to_numpy())
    assert closed["exit_price"].to_numpy() == pytest.approx(ref["ExitPrice"].to_numpy())
    entry = [t.to_pydatetime().replace(tzinfo=dt.UTC) for t in ref["EntryTime"]]
    exit_ = [t.to_pydatetime().replace(tzinfo=dt.UTC) for t in ref["ExitTime"]]
    assert closed["entry_time"].to_list() == entry
    assert closed["exit_time"].to_list() == exit_
    assert closed["pnl"].to_numpy() == pytest.approx(ref["PnL"].to_numpy(), rel=1e-9)
    final = stats["Equity Final [$]"]  # type: ignore[index]
    assert res.equity["equity"][-1] == pytest.approx(final, rel=1e-4)
    assert res.equity["equity"][-1] == pytest.approx(final, rel=1e-12)


def test_run_wiped_out_account_opens_nothing() -> None:
    prices = [100.0, 100.0, 300.0, 300.0, 300.0]
    bars = make_bars(prices, prices).with_columns(sig=pl.Series([-1.0, -1.0, 1.0, 1.0, 1.0]))
    res = run(bars, "sig")
    # Short 100 units at 100 (cash 20,000); the price triples: equity 20,000 - 30,000.
    assert res.equity["equity"].to_list() == pytest.approx(
        [10_000, 10_000, -10_000, -10_000, -10_000]
    )
    assert res.positions["size"].to_list() == pytest.approx([0, -100, -100, 0, 0])
    assert res.trades.height == 1 and res.trades["pnl"][0] == pytest.approx(-20_000)


def test_run_funding_from_the_shipped_funding_dataset() -> None:
    import omni_research as omr

    catalog = omr.open_catalog()
    bars = catalog.load("ohlcv", symbols="BTCUSDT")
    funding = catalog.load("funding", symbols="BTCUSDT")
    # A fixed notional keeps the unit count constant from the first fill (bar 1's open).
    res = run(bars, pl.lit(1.0), sizing="notional", size=5_000.0, funding=funding)
    units = res.trades["size"][0]
    first_fill = bars["timestamp"][1]
    end = bars["timestamp"][-1] + dt.timedelta(minutes=1)
    owed = funding.filter((pl.col("timestamp") >= first_fill) & (pl.col("timestamp") < end)).select(
        (pl.col("funding_rate") * pl.col("mark_price")).sum()
    )
    assert owed.item() != 0
    assert res.stats()["funding"] == pytest.approx(units * owed.item(), rel=1e-12)
    assert res.trades["funding"][0] == pytest.approx(units * owed.item(), rel=1e-12)
