"""omni_research.orderbook: hand-computed features and a look-ahead-free as-of join."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.orderbook import (
    book_features,
    depth,
    imbalance,
    join_book,
    microprice,
    mid_price,
    spread,
    spread_bps,
)
from omni_research.testing import make_market

T0 = datetime(2025, 1, 6, tzinfo=UTC)
US = pl.Datetime("us", "UTC")


def _book(rows: list[tuple[float, str, list[float], list[float], list[float], list[float]]]) -> (
    pl.DataFrame
):  # fmt: skip
    """rows of (seconds, symbol, bid prices, bid sizes, ask prices, ask sizes), 5 levels."""
    data: dict[str, list[object]] = {"timestamp": [], "symbol": []}
    for side in ("bid", "ask"):
        for k in ("px", "sz"):
            for i in range(1, 6):
                data[f"{side}_{k}_{i}"] = []
    for sec, sym, bp, bs, ap, az in rows:
        data["timestamp"].append(T0 + timedelta(seconds=sec))
        data["symbol"].append(sym)
        for side, px, sz in (("bid", bp, bs), ("ask", ap, az)):
            for i in range(5):
                data[f"{side}_px_{i + 1}"].append(float(px[i]))
                data[f"{side}_sz_{i + 1}"].append(float(sz[i]))
    return pl.DataFrame(data, schema_overrides={"timestamp": US})


BOOK = _book(
    [
        (0, "X", [99, 98, 97, 96, 95], [3, 1, 1, 1, 1], [101, 102, 103, 104, 105], [1, 2, 2, 2, 2]),
        (10, "X", [100, 99, 98, 97, 96], [1, 1, 1, 1, 1], [100.5, 101, 102, 103, 104],
         [4, 1, 1, 1, 1]),
    ]
)  # fmt: skip


@pytest.mark.parametrize("lazy", [False, True])
def test_book_features_hand_computed(lazy: bool) -> None:
    out = book_features(BOOK.lazy() if lazy else BOOK, levels=2)
    got = out.collect() if isinstance(out, pl.LazyFrame) else out
    assert isinstance(out, pl.LazyFrame) == lazy
    first = got.row(0, named=True)
    assert first["mid"] == 100.0
    assert first["spread"] == 2.0
    assert first["spread_bps"] == pytest.approx(200.0)
    # (99 × 1 + 101 × 3) / 4: leans toward the ask, where size is thin
    assert first["microprice"] == pytest.approx(100.5)
    assert (first["bid_depth_2"], first["ask_depth_2"]) == (4.0, 3.0)
    assert first["imbalance_2"] == pytest.approx(1 / 7)
    second = got.row(1, named=True)
    assert second["spread_bps"] == pytest.approx(1e4 * 0.5 / 100.25)
    assert second["microprice"] == pytest.approx((100 * 4 + 100.5 * 1) / 5)
    assert second["imbalance_2"] == pytest.approx((2 - 5) / 7)


def test_feature_expressions_match_numpy_on_generated_books() -> None:
    book = make_market(days=1, symbols=("BTCUSDT",))["orderbook"]
    out = book.select(mid_price(), spread(), spread_bps(), microprice(), imbalance(levels=5))
    b1, a1 = book["bid_px_1"].to_numpy(), book["ask_px_1"].to_numpy()
    bs1, as1 = book["bid_sz_1"].to_numpy(), book["ask_sz_1"].to_numpy()
    bid_depth = sum(book[f"bid_sz_{i}"].to_numpy() for i in range(1, 6))
    ask_depth = sum(book[f"ask_sz_{i}"].to_numpy() for i in range(1, 6))
    assert out["mid"].to_numpy() == pytest.approx((b1 + a1) / 2)
    assert out["spread_bps"].to_numpy() == pytest.approx((a1 - b1) / ((a1 + b1) / 2) * 1e4)
    assert out["microprice"].to_numpy() == pytest.approx((b1 * as1 + a1 * bs1) / (bs1 + as1))
    assert out["imbalance_5"].to_numpy() == pytest.approx(
        (bid_depth - ask_depth) / (bid_depth + ask_depth)
    )
    assert out["microprice"].is_between(book["bid_px_1"], book["ask_px_1"]).all()
    assert out["imbalance_5"].is_between(-1, 1).all()
    assert (out["spread"] > 0).all()


def test_levels_out_of_range_raise() -> None:
    with pytest.raises(ConfigurationError, match="levels must be an integer from 1 to 5"):
        depth("bid", levels=6)
    with pytest.raises(DataFormatError, match="missing column"):
        book_features(BOOK.drop("ask_sz_1"))


TRADES = pl.DataFrame(
    {
        "timestamp": [T0 - timedelta(seconds=1), T0, T0 + timedelta(seconds=9.999999),
                      T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)],
        "symbol": ["X"] * 5,
        "price": [1.0, 2.0, 3.0, 4.0, 5.0],
    },
    schema_overrides={"timestamp": US},
)  # fmt: skip


def test_join_book_takes_latest_snapshot_at_or_before_each_trade() -> None:
    out = join_book(TRADES, BOOK, levels=2)
    assert_frame_equal(out.select(TRADES.columns), TRADES)
    assert out["book_timestamp"].to_list() == [
        None, T0, T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=10)
    ]  # fmt: skip
    assert out["mid"].to_list() == [None, 100.0, 100.0, 100.25, 100.25]
    strict = join_book(TRADES.lazy(), BOOK.lazy(), levels=2, allow_exact_matches=False).collect()
    assert strict["book_timestamp"].to_list() == [None, None, T0, T0, T0 + timedelta(seconds=10)]
    aged = join_book(TRADES, BOOK, levels=2, max_age="5s")
    assert aged["mid"].to_list() == [None, 100.0, None, 100.25, None]


def test_join_book_never_uses_a_later_snapshot() -> None:
    market = make_market(days=1, symbols=("BTCUSDT", "SOLUSDT"))
    trades, book = market["trades"], market["orderbook"]
    base = join_book(trades, book)
    assert base.height == trades.height
    assert (base["book_timestamp"] <= base["timestamp"]).all()
    # changing every snapshot after a cut changes nothing for trades before it
    cut = T0 + timedelta(hours=12)
    changed_book = book.with_columns(
        pl.when(pl.col("timestamp") > cut).then(pl.col("bid_sz_1") * 7).otherwise("bid_sz_1")
    )
    changed = join_book(trades, changed_book)
    early = pl.col("timestamp") <= cut
    assert_frame_equal(changed.filter(early), base.filter(early))
    assert not changed.filter(~early)["microprice"].equals(base.filter(~early)["microprice"])


def test_join_book_on_bars_uses_the_bar_close() -> None:
    bars = pl.DataFrame(
        {"timestamp": [T0 - timedelta(minutes=1)], "symbol": ["X"], "timeframe": ["1m"]},
        schema_overrides={"timestamp": US},
    )
    at_close = join_book(bars, BOOK, levels=1)  # the bar closes at T0: snapshot T0 is known
    assert at_close["book_timestamp"].to_list() == [T0]
    at_open = join_book(bars, BOOK, levels=1, at="timestamp")
    assert at_open["book_timestamp"].to_list() == [None]
    with pytest.raises(ConfigurationError, match="timeframe"):
        join_book(TRADES, BOOK, at="close")
