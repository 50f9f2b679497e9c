"""JSON Schema of the market kinds, derived from the Pandera models (one source of truth).

It describes one record (row) per kind for the rest of the OMNI system. Field rules
(types, nullability, ranges, enums, patterns) carry over; rules that relate several
columns or rows (``high >= max(open, close)``, sortedness) cannot be said in JSON Schema
and are listed under ``x-omni-frame-rules`` for the reader.
"""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl

from omni_research.config import SCHEMA_VERSION

MARKET_KINDS = (
    "ohlcv", "trades", "orderbook", "funding", "open_interest", "instruments", "coins", "news",
    "sentiment",
)  # fmt: skip
# RFC 3339 in UTC only: a trailing Z or +00:00.
_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$"


def _column_schema(column: Any) -> dict[str, Any]:
    dtype = column.dtype.type
    if isinstance(dtype, pl.Datetime):
        out: dict[str, Any] = {"type": "string", "format": "date-time", "pattern": _UTC_PATTERN}
    elif isinstance(dtype, pl.Date):
        out = {"type": "string", "format": "date"}
    elif dtype.is_integer():
        out = {"type": "integer"}
    elif dtype.is_float():
        out = {"type": "number"}
    else:
        out = {"type": "string"}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "greater_than":
            out["exclusiveMinimum"] = stats["min_value"]
        elif check.name == "greater_than_or_equal_to":
            out["minimum"] = stats["min_value"]
        elif check.name == "in_range":
            out["minimum"], out["maximum"] = stats["min_value"], stats["max_value"]
        elif check.name == "isin":
            out["enum"] = sorted(stats["allowed_values"])
        elif check.name == "str_matches":
            out["pattern"] = stats["pattern"]
        elif check.name == "not_blank":
            out["minLength"], out["pattern"] = 1, r"\S"
    if column.nullable:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _kind_schema(model: type[pa.DataFrameModel]) -> dict[str, Any]:
    schema = model.to_schema()
    return {
        "type": "object",
        "description": (model.__doc__ or "").strip(),
        "properties": {name: _column_schema(col) for name, col in schema.columns.items()},
        "required": list(schema.columns),
        "additionalProperties": False,
        "x-omni-frame-rules": [check.name for check in schema.checks],
    }


def market_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one record of each market kind.

    Examples
    --------
    >>> from omni_research.schemas import market_json_schema
    >>> sorted(market_json_schema()["$defs"])[:3]
    ['coins', 'funding', 'instruments']
    """
    from omni_research.schemas._validate import schema_for

    defs = {kind: _kind_schema(schema_for(kind)) for kind in MARKET_KINDS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://omni.local/schemas/market_data_schema.json",
        "title": "OMNI market data records",
        "x-schema-version": SCHEMA_VERSION,
        "$defs": defs,
        "oneOf": [{"$ref": f"#/$defs/{kind}"} for kind in MARKET_KINDS],
    }
