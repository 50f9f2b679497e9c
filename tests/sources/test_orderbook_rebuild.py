"""The order-book rebuild against a plain Python dict rebuild, and its sequence gaps."""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.sources._orderbook_rebuild import (
    BookRebuilder,
    _scan_fast,
    interval_ms,
    line_chunks,
    rebuild_orderbook,
)
from omni_research.testing._fake_bybit_dumps import make_book_messages


def _lines(messages: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(m) + "\n" for m in messages).encode()


def _reference(
    messages: list[dict[str, Any]], *, step: int, levels: int
) -> tuple[pl.DataFrame, list[tuple[int, int | None, int]]]:
    """Pull-based rebuild with dicts: at each instant, apply what came until then."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    gaps: list[tuple[int, int | None, int]] = []
    previous: int | None = None
    for m in messages:
        u = m["data"]["u"]
        if m["type"] == "delta" and (previous is None or u != previous + 1):
            gaps.append((m["ts"], previous, u))
        previous = u
    rows: list[dict[str, Any]] = []
    first, last = messages[0]["ts"], messages[-1]["ts"]
    instant = -(-first // step) * step
    i = 0
    while instant <= last:
        while i < len(messages) and messages[i]["ts"] <= instant:
            m = messages[i]
            if m["type"] == "snapshot":
                bids.clear()
                asks.clear()
            for book, key in ((bids, "b"), (asks, "a")):
                for price, size in m["data"][key]:
                    if float(size) == 0:
                        book.pop(float(price), None)
                    else:
                        book[float(price)] = float(size)
            i += 1
        top_b = sorted(bids.items(), reverse=True)[:levels]
        top_a = sorted(asks.items())[:levels]
        if len(top_b) == levels and len(top_a) == levels and top_b[0][0] < top_a[0][0]:
            row: dict[str, Any] = {"ms": instant, "symbol": messages[0]["data"]["s"]}
            for name, top in (("bid", top_b), ("ask", top_a)):
                for k, (px, _) in enumerate(top, 1):
                    row[f"{name}_px_{k}"] = px
                for k, (_, sz) in enumerate(top, 1):
                    row[f"{name}_sz_{k}"] = sz
            rows.append(row)
        instant += step
    frame = pl.DataFrame(rows).with_columns(
        pl.from_epoch("ms", time_unit="ms")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias("timestamp")
    )
    return frame.drop("ms"), gaps


@pytest.mark.parametrize(("interval", "levels"), [("1s", 5), ("250ms", 1), ("2s", 10)])
@pytest.mark.parametrize("chunk", [1 << 30, 4096])
def test_rebuild_matches_dict_reference_at_every_instant(
    interval: str, levels: int, chunk: int
) -> None:
    messages = make_book_messages("BTCUSDT", "2025-01-06", messages=2500, depth=60,
                                  span_ms=900_000, seed=11)  # fmt: skip
    kinds = {m["type"] for m in messages}
    deletes = sum(1 for m in messages for s in ("b", "a") for _, z in m["data"][s] if z == "0")
    assert kinds == {"snapshot", "delta"} and deletes > 100  # the stream exercises the rules
    result = rebuild_orderbook(
        list(line_chunks(io.BytesIO(_lines(messages)), size=chunk)),
        symbol="BTCUSDT",
        interval=interval,
        levels=levels,
    )
    expected, gaps = _reference(messages, step=interval_ms(interval), levels=levels)
    assert result.frame.height > 100 and result.skipped < result.frame.height
    assert_frame_equal(result.frame, expected.select(result.frame.columns))
    assert [(g.ts, g.previous, g.u) for g in result.gaps] == gaps
    assert result.messages == len(messages)
    assert result.snapshots == 2
    assert result.updates == sum(len(m["data"]["b"]) + len(m["data"]["a"]) for m in messages)


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_byte_scanner_equals_the_general_json_reader(separators: tuple[str, str]) -> None:
    messages = make_book_messages("BTCUSDT", "2025-01-06", messages=800, depth=40, seed=5)
    data = "".join(json.dumps(m, separators=separators) + "\n" for m in messages).encode()
    assert _scan_fast(data, "BTCUSDT") is not None  # the fast path is taken

    def rebuild(fast: bool, chunk: bytes) -> pl.DataFrame:
        r = BookRebuilder(symbol="BTCUSDT", levels=5, fast=fast)
        r.feed(chunk)
        return r.finish().frame

    assert_frame_equal(rebuild(True, data), rebuild(False, data))
    # an exponent is valid JSON the scanner does not read: the chunk falls back, same book
    delta = next(m for m in messages[10:] if m["type"] == "delta" and m["data"]["b"])
    price, size = delta["data"]["b"][0]
    delta["data"]["b"][0] = [price, f"{round(float(size) * 1000)}e-3"]  # the same number
    odd = "".join(json.dumps(m, separators=separators) + "\n" for m in messages).encode()
    assert odd != data and _scan_fast(odd, "BTCUSDT") is None
    assert_frame_equal(rebuild(True, odd), rebuild(False, data))


def test_rebuild_reports_the_sequence_gap_and_restart_is_no_gap() -> None:
    messages = make_book_messages("ETHUSDT", "2025-01-06", messages=600, depth=20, seed=3)
    result = rebuild_orderbook(_lines(messages), symbol="ETHUSDT")
    gap_message = messages[600 // 3]
    assert len(result.gaps) == 1
    gap = result.gaps[0]
    assert (gap.ts, gap.u) == (gap_message["ts"], gap_message["data"]["u"])
    assert gap.u == gap.previous + 2  # type: ignore[operator]
    assert "sequence gap" in str(gap) and "+1 updates lost" in str(gap)
    restart = messages[2 * 600 // 3]
    assert restart["type"] == "snapshot" and restart["data"]["u"] == 1
    assert result.depth == 20


def test_delta_before_any_snapshot_is_a_gap_and_snapshot_resets_the_book() -> None:
    def msg(kind: str, ts: int, u: int, b: list[list[str]], a: list[list[str]]) -> dict[str, Any]:
        return {"topic": "orderbook.200.X", "type": kind, "ts": ts,
                "data": {"s": "X", "b": b, "a": a, "u": u, "seq": u}, "cts": ts}  # fmt: skip

    messages = [
        msg("delta", 500, 7, [["1", "1"]], [["3", "1"]]),
        msg("snapshot", 1000, 8, [["9", "1"], ["8", "2"]], [["10", "1"]]),
        msg("delta", 1200, 9, [["9", "0"], ["7", "5"]], [["12", "2"], ["10", "0"]]),
        msg("snapshot", 2500, 1, [["5", "1"]], [["6", "1"]]),  # restart: the old book is gone
    ]
    result = rebuild_orderbook(_lines(messages), symbol="X", levels=1)
    assert [(g.ts, g.previous, g.u) for g in result.gaps] == [(500, None, 7)]
    assert "before any snapshot" in str(result.gaps[0])
    assert result.depth == 200
    rows = result.frame.select("bid_px_1", "bid_sz_1", "ask_px_1", "ask_sz_1").rows()
    # 1 s: the first snapshot; 2 s: after the delta (9 deleted, 10 deleted)
    assert rows == [(9.0, 1.0, 10.0, 1.0), (8.0, 2.0, 12.0, 2.0)]
    two = rebuild_orderbook(_lines(messages), symbol="X", levels=2)
    assert two.frame.height == 0 and two.skipped == 2  # the ask side never had two levels


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"topic":"orderbook.500.X","type":"update","ts":1,"data":{"s":"X","b":[],"a":[],'
         '"u":1,"seq":1}}', "message type 'update'"),
        ('{"topic":"orderbook.500.X","type":"delta","ts":1,"data":{"s":"X","b":[["1"]],'
         '"a":[],"u":1,"seq":1}}', r"not \[price, size\] pairs"),
        ('{"topic":"orderbook.500.X","type":"delta","ts":1,"data":{"s":"X","b":[["x","1"]],'
         '"a":[],"u":1,"seq":1}}', r"not \[price, size\] pairs"),
        ('{"topic":"orderbook.500.X","type":"delta","ts":1,"data":{"s":"Y","b":[],"a":[],'
         '"u":1,"seq":1}}', "messages of 'Y'"),
        ('{"topic":"orderbook.500.X","type":"delta","ts":1,"data":{"s":"X","b":[],"a":[]}}',
         "without data.u"),
        ("not json", "not a JSON object"),
    ],
)  # fmt: skip
def test_rebuild_refuses_lines_off_the_documented_shape(line: str, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        rebuild_orderbook((line + "\n").encode(), symbol="X", where="dump.zip")


def test_a_message_stamped_early_is_applied_in_file_order_and_counted() -> None:
    messages = make_book_messages("X", "2025-01-06", messages=400, depth=20, gap=False)
    late = messages[200]
    late["ts"] = messages[150]["ts"]  # earlier than its neighbours, still in u order
    assert late["ts"] < messages[199]["ts"]
    result = rebuild_orderbook(_lines(messages), symbol="X")
    assert result.late == 1 and result.gaps == ()
    # the same as if it had carried the latest time seen before it
    fixed = [dict(m) for m in messages]
    fixed[200] = {**late, "ts": messages[199]["ts"]}
    assert_frame_equal(result.frame, rebuild_orderbook(_lines(fixed), symbol="X").frame)


def test_interval_ms_parses_and_refuses() -> None:
    assert interval_ms("1s") == 1000
    assert interval_ms("100ms") == 100
    assert interval_ms("1h") == 3_600_000
    with pytest.raises(ConfigurationError, match="book interval '1 sec'"):
        interval_ms("1 sec")
