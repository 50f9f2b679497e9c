"""The registry holds every class of every `ta` module, each exactly once."""

from __future__ import annotations

import importlib
import inspect

import pytest

from omni_research import indicators as ind

FAMILIES = ("volume", "volatility", "trend", "momentum", "others")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_ta_class_of_the_family_is_registered_once(family: str) -> None:
    module = importlib.import_module(f"ta.{family}")
    classes = {
        name
        for name, obj in inspect.getmembers(module, inspect.isclass)
        if obj.__module__ == f"ta.{family}"
    }
    refs = [i.ta_reference for i in ind.registry().values() if i.family == family]
    assert len(refs) == len(set(refs))
    assert {r.removeprefix(f"ta.{family}.") for r in refs} == classes


def test_registry_covers_the_43_ta_classes() -> None:
    assert len(ind.registry()) == 43
