"""FIFO P&L reconciles with the trading system's records; execution analysis by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import omni_research as omr
from omni_research import pnl
from omni_research.exceptions import DataFormatError

T0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def _fills(rows: list[tuple[int, str, float, float]], *, account: str = "ACC-1") -> pl.DataFrame:
    """(minute offset, side, price, size) -> a fills frame with a 0.1% fee."""
    return pl.DataFrame(
        {
            "timestamp": [T0 + dt.timedelta(minutes=m) for m, *_ in rows],
            "fill_id": [f"F{i:03d}" for i in range(len(rows))],
            "order_id": [f"O{i:03d}" for i in range(len(rows))],
            "symbol": "BTCUSDT",
            "agent_id": "agent",
            "account_id": account,
            "side": [s for _, s, _, _ in rows],
            "price": [p for *_, p, _ in rows],
            "size": [q for *_, q in rows],
            "fee": [p * q * 0.001 for *_, p, q in rows],
            "liquidity": "taker",
        }
    ).with_columns(pl.col("timestamp").cast(UTC))


@pytest.fixture(scope="module")
def shipped() -> dict[str, pl.DataFrame]:
    catalog = omr.open_catalog()
    kinds = ("fills", "ohlcv", "positions", "pnl", "orders", "orderbook")
    return {k: catalog.load(k) for k in kinds}


@pytest.mark.parametrize("lazy", [False, True])
def test_positions_reconcile_with_shipped_records_to_the_cent(
    shipped: dict[str, pl.DataFrame], lazy: bool
) -> None:
    fills = shipped["fills"].lazy() if lazy else shipped["fills"]
    ours = pnl.positions(fills, shipped["ohlcv"])
    ours = ours.collect() if isinstance(ours, pl.LazyFrame) else ours
    ref = shipped["positions"]
    assert ours.columns == ref.columns and ours.height == ref.height > 0
    keys = ["timestamp", "symbol", "account_id"]
    both = ref.join(ours, on=keys, how="full", suffix="_ours", coalesce=True)
    assert both.height == ref.height
    for col in ("size", "avg_entry_price", "mark_price", "unrealized_pnl", "realized_pnl"):
        a, b = pl.col(col), pl.col(f"{col}_ours")
        assert both.select((a.is_null() != b.is_null()).sum()).item() == 0, col
        assert both.select((a - b).abs().max()).item() < 0.005, col
    assert (ref["size"] != 0).sum() > 5 and ref["realized_pnl"].abs().max() > 1


def test_daily_pnl_reconciles_with_shipped_records_to_the_cent(
    shipped: dict[str, pl.DataFrame],
) -> None:
    ours = pnl.daily_pnl(shipped["fills"], shipped["ohlcv"])
    ref = shipped["pnl"]
    assert ours.columns == ref.columns and ours.height == ref.height
    both = ref.join(ours, on=["date", "symbol", "account_id"], suffix="_ours")
    assert both.height == ref.height
    for col in ("realized_pnl", "unrealized_pnl", "fees", "net_pnl"):
        assert both.select((pl.col(col) - pl.col(f"{col}_ours")).abs().max()).item() < 0.005


def test_fifo_ledger_matches_hand_computed_lots() -> None:
    fills = _fills(
        [
            (0, "buy", 100.0, 2.0),
            (1, "buy", 110.0, 1.0),
            (2, "sell", 120.0, 2.5),  # closes the 100 lot and half the 110 lot
            (3, "sell", 130.0, 1.0),  # closes the last 0.5 @ 110, opens 0.5 short @ 130
        ]
    )
    ledger = pnl.fifo_ledger(fills)
    assert ledger["position"].to_list() == pytest.approx([2.0, 3.0, 0.5, -0.5])
    assert ledger["realized_pnl"].to_list() == pytest.approx([0, 0, 2 * 20 + 0.5 * 10, 0.5 * 20])
    assert ledger["cum_realized_pnl"][-1] == pytest.approx(55.0)
    assert ledger["avg_entry_price"].to_list() == pytest.approx([100, 310 / 3, 110, 130])
    assert ledger["cum_fees"][-1] == pytest.approx((200 + 110 + 300 + 130) * 0.001)


def test_positions_snapshot_at_day_end_with_midnight_fill_in_the_next_day() -> None:
    fills = _fills([(60, "buy", 100.0, 1.0), (24 * 60, "sell", 105.0, 1.0)])
    times = [T0 + dt.timedelta(minutes=m) for m in (0, 23 * 60 + 59, 24 * 60, 24 * 60 + 1)]
    ohlcv = pl.DataFrame(
        {"timestamp": times, "symbol": "BTCUSDT", "close": [99.0, 102.0, 104.0, 103.0]}
    ).with_columns(pl.col("timestamp").cast(UTC))
    pos = pnl.positions(fills, ohlcv)
    assert pos["timestamp"].to_list() == [T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)]
    assert pos["size"].to_list() == [1.0, 0.0]
    assert pos["mark_price"].to_list() == [102.0, 103.0]
    assert pos["avg_entry_price"].to_list() == [100.0, None]
    assert pos["unrealized_pnl"].to_list() == pytest.approx([2.0, 0.0])
    assert pos["realized_pnl"].to_list() == pytest.approx([0.0, 5.0])
    daily = pnl.daily_pnl(fills, ohlcv)
    assert daily["net_pnl"].to_list() == pytest.approx([2.0 - 0.1, 5.0 - 0.1 - 0.105])


def test_execution_analysis_measures_slippage_fees_and_fill_rate_by_hand() -> None:
    fills = _fills([(0, "buy", 101.0, 1.0), (1, "sell", 99.0, 3.0)]).with_columns(
        liquidity=pl.Series(["taker", "maker"])
    )
    book = pl.DataFrame(
        {
            "timestamp": [T0 - dt.timedelta(seconds=5), T0 + dt.timedelta(seconds=30)],
            "symbol": "BTCUSDT",
            "bid_px_1": [99.5, 99.0],
            "ask_px_1": [100.5, 101.0],
        }
    ).with_columns(pl.col("timestamp").cast(UTC))
    bars = pl.DataFrame(
        {
            "timestamp": [T0, T0 + dt.timedelta(minutes=1)],
            "symbol": "BTCUSDT",
            "volume": [10.0, 4.0],
            "turnover": [1_000.0, 404.0],  # VWAP 100 then 101
        }
    ).with_columns(pl.col("timestamp").cast(UTC))
    orders = pl.DataFrame(
        {
            "symbol": "BTCUSDT",
            "agent_id": "agent",
            "size": [1.0, 4.0, 2.0],
            "filled_size": [1.0, 3.0, 0.0],
            "status": ["filled", "partially_filled", "cancelled"],
        }
    )
    per_fill = pnl.execution_costs(fills, orderbook=book, ohlcv=bars)
    # Buy 101 vs mid 100: 100 bps paid; sell 99 vs mid 100: 100 bps given up.
    assert per_fill["slippage_mid_bps"].to_list() == pytest.approx([100.0, 100.0])
    assert per_fill["slippage_vwap_bps"].to_list() == pytest.approx([100.0, (1 - 99 / 101) * 1e4])
    out = pnl.execution_analysis(fills, orders=orders, orderbook=book, ohlcv=bars)
    row = out.row(0, named=True)
    assert (row["fills"], row["orders"]) == (2, 3)
    assert row["notional"] == pytest.approx(101 + 297)
    assert row["fees"] == pytest.approx(0.398)
    assert row["fee_bps"] == pytest.approx(10.0)
    assert row["maker_share"] == pytest.approx(297 / 398)
    assert row["fill_rate"] == pytest.approx(4 / 7)
    assert row["filled_share"] == pytest.approx(1 / 3)
    vwap_bps = (101 * 100 + 297 * (1 - 99 / 101) * 1e4) / 398
    assert row["slippage_vwap_bps"] == pytest.approx(vwap_bps)


def test_execution_analysis_on_shipped_records_has_one_row_per_symbol_and_agent(
    shipped: dict[str, pl.DataFrame],
) -> None:
    out = pnl.execution_analysis(shipped["fills"], orders=shipped["orders"])
    assert out.height == shipped["fills"].select("symbol", "agent_id").unique().height
    assert out["fills"].sum() == shipped["fills"].height
    assert out["fees"].sum() == pytest.approx(shipped["fills"]["fee"].sum())
    assert ((out["fill_rate"] > 0) & (out["fill_rate"] <= 1)).all()


def test_fills_without_required_columns_raise_format_error() -> None:
    with pytest.raises(DataFormatError, match=r"fills lacks column\(s\) \['fee'\]"):
        pnl.fifo_ledger(_fills([(0, "buy", 1.0, 1.0)]).drop("fee"))


def test_execution_costs_on_shipped_fills_charge_takers_the_half_spread(
    shipped: dict[str, pl.DataFrame],
) -> None:
    costs = pnl.execution_costs(
        shipped["fills"], orderbook=shipped["orderbook"], ohlcv=shipped["ohlcv"]
    )
    assert costs["mid"].null_count() == 0 and costs["vwap"].null_count() == 0
    taker = costs.filter(pl.col("liquidity") == "taker")
    # Market orders fill at the touch (ask for buys, bid for sells): a cost against the mid,
    # unless the book moved between the snapshot and the fill.
    assert (taker["slippage_mid_bps"] > 0).mean() > 0.95  # type: ignore[operator]
    assert taker["fee_bps"].to_list() == pytest.approx([5.5] * taker.height, abs=1e-3)
