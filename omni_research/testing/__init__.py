"""Helpers for tests and notebooks: seeded synthetic data and the test-root generator.

Like ``polars.testing``: users want them too, to try an idea on data with known structure.
"""

from omni_research._public import publish
from omni_research.testing._datatest import DEFAULT_SEED, bybit_dump, make_test_data
from omni_research.testing._fake_bybit import FakeBybit, make_instruments, make_open_interest
from omni_research.testing._fake_providers import FakeCoinGecko, FakeNewsAPI, FakeX
from omni_research.testing._kmip_server import KmipTestServer
from omni_research.testing._market import SYMBOLS, bars_from_trades, make_market, make_ohlcv
from omni_research.testing._ray_cluster import RayCluster, ray_cluster, start_ray_cluster
from omni_research.testing._seaweed import SeaweedServer
from omni_research.testing._trading import make_trading

publish(
    __name__,
    FakeBybit,
    FakeCoinGecko,
    FakeNewsAPI,
    FakeX,
    KmipTestServer,
    RayCluster,
    SeaweedServer,
)

__all__ = [
    "DEFAULT_SEED",
    "SYMBOLS",
    "FakeBybit",
    "FakeCoinGecko",
    "FakeNewsAPI",
    "FakeX",
    "KmipTestServer",
    "RayCluster",
    "SeaweedServer",
    "bars_from_trades",
    "bybit_dump",
    "make_instruments",
    "make_market",
    "make_ohlcv",
    "make_open_interest",
    "make_test_data",
    "make_trading",
    "ray_cluster",
    "start_ray_cluster",
]
