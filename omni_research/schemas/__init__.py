"""One Pandera model per data kind, and ``validate(df, kind)``.

Market: OHLCV, Trades, OrderBook, Funding, Coins, News, Sentiment.
Trading: Orders, Fills, Positions, PnL. Agents: AgentMetrics, Decisions.
"""

from omni_research.schemas._agents import AgentMetrics, Decisions
from omni_research.schemas._exchange import Instruments, OpenInterest
from omni_research.schemas._jsonschema import market_json_schema
from omni_research.schemas._market import OHLCV, Coins, Funding, OrderBook, Trades
from omni_research.schemas._news import News, Sentiment
from omni_research.schemas._social import Posts
from omni_research.schemas._trading import Fills, Orders, PnL, Positions
from omni_research.schemas._validate import MODELS, polars_schema, schema_for, validate

__all__ = [
    "MODELS",
    "OHLCV",
    "AgentMetrics",
    "Coins",
    "Decisions",
    "Fills",
    "Funding",
    "Instruments",
    "News",
    "OpenInterest",
    "OrderBook",
    "Orders",
    "PnL",
    "Positions",
    "Posts",
    "Sentiment",
    "Trades",
    "market_json_schema",
    "polars_schema",
    "schema_for",
    "validate",
]
