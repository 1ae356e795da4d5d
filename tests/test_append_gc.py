"""The cyclic collector is paused while a batch is appended and resumed after (``collection_deferred``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from raretrace.ledger import registry
from raretrace.ledger.judging import judge
from raretrace.ledger.registry import collection_deferred


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_resumed_after() -> None:
    gc.enable()
    with collection_deferred():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collection_deferred():
        raise RuntimeError("a refused batch")
    assert gc.isenabled()


def test_nested_appends_resume_only_when_the_last_ends() -> None:
    """Two appends overlapping (a server's threads): the first to end must not resume collection
    while the other still runs."""
    gc.enable()
    outer = collection_deferred()
    outer.__enter__()
    with collection_deferred():
        assert not gc.isenabled()
    assert not gc.isenabled()
    outer.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_turned_off_stays_off() -> None:
    gc.disable()
    with collection_deferred():
        assert not gc.isenabled()
    assert not gc.isenabled()
    assert registry._Deferral.running == 0


def test_append_runs_with_the_collector_paused(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's append itself goes through it (judging and writing with collection paused)."""
    seen: list[bool] = []

    def judging(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return judge(*args, **kwargs)  # type: ignore[arg-type]  # the same arguments, passed on

    from raretrace.ledger.scripted import ScriptedChain, lot
    from raretrace.store.db import make_engine

    monkeypatch.setattr(registry, "judge", judging)
    gc.enable()
    reg = registry.Registry.init(make_engine(f"sqlite:///{tmp_path}/r.db"), "test.example/log")
    chain = ScriptedChain(reg)
    chain.add_facility("MINE", country="US", stages=["mining"])
    seen.clear()
    reg.append(
        [
            chain.envelope(
                "MINE",
                "extract",
                deposit="D",
                outputs=[lot("urn:raretrace:lot:MINE:o", "ore", 1.0, {"Nd": 0.1})],
            )
        ]
    )
    assert seen == [False]
    assert gc.isenabled()
