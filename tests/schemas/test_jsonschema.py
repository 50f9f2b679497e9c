"""market_data_schema.json and the Pandera models accept and reject the same records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import DataValidationError
from omni_research.io._readers import conform
from omni_research.schemas import market_json_schema

SHIPPED = Path(__file__).resolve().parents[2] / "data_test" / "market_data_schema.json"


def test_shipped_json_schema_is_the_generated_one() -> None:
    assert json.loads(SHIPPED.read_text()) == market_json_schema()
    jsonschema.Draft202012Validator.check_schema(market_json_schema())


def _sample(kind: str) -> dict[str, Any]:
    frame = omr.open_catalog().scan(kind).head(1).collect()
    row = frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).to_dicts()
    return row[0]


# Field-level mutations. Rules across columns or rows (high >= max(open, close), sortedness)
# cannot be said in JSON Schema; the schema lists them under x-omni-frame-rules instead.
MUTATIONS: list[tuple[str, str, Any]] = [
    ("ohlcv", "close", -5.0),
    ("ohlcv", "volume", -1.0),
    ("ohlcv", "timeframe", "7m"),
    ("ohlcv", "timestamp", "2025-01-06T00:00:00"),
    ("ohlcv", "timestamp", "2025-01-06T00:00:00+02:00"),
    ("ohlcv", "symbol", ""),
    ("ohlcv", "trade_count", None),
    ("trades", "side", "Buy"),
    ("trades", "size", 0.0),
    ("orderbook", "ask_sz_3", 0.0),
    ("funding", "funding_rate", 0.2),
    ("coins", "market_cap_rank", 0),
    ("news", "url", "ftp://x"),
    ("news", "symbol", None),
    ("sentiment", "score", 1.5),
    ("sentiment", "source", "reddit"),
    ("ohlcv", "open", 1.5),
    ("trades", "price", 10.0),
]


def _pandera_accepts(kind: str, record: dict[str, Any]) -> bool:
    text = {
        k: None if v is None else (v if isinstance(v, str) else json.dumps(v))
        for k, v in record.items()
    }
    raw = pl.DataFrame([text], schema=dict.fromkeys(text, pl.String))
    try:
        omr.validate(conform(raw, kind, source="sample"), kind)
    except DataValidationError:
        return False
    return True


def _json_accepts(kind: str, record: dict[str, Any]) -> bool:
    schema = market_json_schema()
    validator = jsonschema.Draft202012Validator(
        {**schema, "$ref": f"#/$defs/{kind}", "oneOf": None}
        | {"oneOf": [{"$ref": f"#/$defs/{kind}"}]}
    )
    return validator.is_valid(record)


@pytest.mark.parametrize(
    "kind", ["ohlcv", "trades", "orderbook", "funding", "coins", "news", "sentiment"]
)
def test_both_accept_real_records(kind: str) -> None:
    record = _sample(kind)
    assert _pandera_accepts(kind, record)
    assert _json_accepts(kind, record)


@pytest.mark.parametrize(
    ("kind", "field", "value"), MUTATIONS, ids=[f"{k}-{f}-{v}" for k, f, v in MUTATIONS]
)
def test_both_agree_on_mutated_records(kind: str, field: str, value: Any) -> None:
    record = _sample(kind) | {field: value}
    if kind == "ohlcv" and field == "open":  # keep OHLC consistent: a valid change
        record |= {"open": record["low"]}
    if kind == "trades" and field == "price":
        record |= {"price": 10.0}
    assert _pandera_accepts(kind, record) == _json_accepts(kind, record)


def test_frame_rules_are_listed_for_readers() -> None:
    rules = market_json_schema()["$defs"]["ohlcv"]["x-omni-frame-rules"]
    assert "high >= max(open, close)" in rules
    assert dt.UTC is not None
