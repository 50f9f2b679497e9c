"""Sharing sub-expressions between the signals of a sweep.

Polars' common-subexpression elimination leaves rolling functions alone, so a 50 x 50 SMA
grid would compute 5,000 moving averages where 100 are distinct. Here each signal's
expression tree is read (its JSON form), every subtree below the element-wise skeleton
(comparisons, arithmetic, when/then, casts) is replaced by a column computed once and
reused across the whole grid. Element-wise nodes evaluate their inputs in the same
top-level context, so a hoisted subtree computed in ``with_columns`` (with the same
``.over``) gives the same values. Anything unexpected falls back to plain evaluation.
"""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl

# Node kinds whose children are evaluated element-wise in the parent's context.
_ELEMENTWISE = {"BinaryExpr": ("left", "right"), "Ternary": ("predicate", "truthy", "falsy")}
_CACHE_BYTES = 1 << 30


class SharedEvaluator:
    """Evaluate batches of signal expressions on one frame, computing shared parts once."""

    def __init__(self, frame: pl.DataFrame, grouped: bool) -> None:
        self.frame = frame
        self.grouped = grouped
        self.names: dict[str, str] = {}  # subtree JSON -> column name
        self.cache: dict[str, pl.Series] = {}

    def _walk(self, node: Any, needed: dict[str, str]) -> Any:
        if not (isinstance(node, dict) and len(node) == 1):
            raise ValueError("unexpected expression node")
        ((kind, body),) = node.items()
        if kind in _ELEMENTWISE:
            for key in _ELEMENTWISE[kind]:
                body[key] = self._walk(body[key], needed)
            return node
        if kind == "Cast":
            body["expr"] = self._walk(body["expr"], needed)
            return node
        if kind == "Alias":
            body[0] = self._walk(body[0], needed)
            return node
        if kind in ("Column", "Literal"):
            return node
        key = json.dumps(node, sort_keys=True)
        name = self.names.setdefault(key, f"__shared{len(self.names)}")
        needed[name] = key
        return {"Column": name}

    def rewrite(self, exprs: list[pl.Expr]) -> tuple[list[pl.Expr], dict[str, str]]:
        needed: dict[str, str] = {}
        out = []
        for expr in exprs:
            tree = json.loads(expr.meta.serialize(format="json"))
            tree = self._walk(tree, needed)
            out.append(pl.Expr.deserialize(io.StringIO(json.dumps(tree)), format="json"))
        return out, needed

    def frame_for(self, exprs: list[pl.Expr]) -> tuple[pl.DataFrame, list[pl.Expr]] | None:
        """The frame with the shared columns attached, and the rewritten expressions."""
        try:
            rewritten, needed = self.rewrite(exprs)
            missing = [n for n in needed if n not in self.cache]
            if missing:
                size = sum(s.estimated_size() for s in self.cache.values())
                if size > _CACHE_BYTES:
                    self.cache = {n: s for n, s in self.cache.items() if n in needed}
                parts = []
                for name in missing:
                    sub = pl.Expr.deserialize(io.StringIO(needed[name]), format="json")
                    parts.append((sub.over("__sym") if self.grouped else sub).alias(name))
                computed = self.frame.select("__t", *parts)
                for name in missing:
                    self.cache[name] = computed.get_column(name)
            frame = self.frame.with_columns(self.cache[n] for n in needed)
        except Exception:  # any surprise in the tree or its evaluation: plain evaluation
            return None
        return frame, rewritten
