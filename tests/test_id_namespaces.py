"""Id namespaces (custody/namespaces.py): only a facility's own events create ids in its namespace, and a
registry made with namespaced ids required refuses open ids from facilities. The competitor's side (the
refusal reads the same whether an id exists) is in test_competitor.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from raretrace.cli.main import app
from raretrace.custody.namespaces import check_new_id, owner
from raretrace.errors import AuthorizationError, DuplicateError
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store.db import make_engine
from tests.chain_fixtures import snapshot

ORE = {"Nd": 0.2, "other": 0.8}


@pytest.mark.parametrize(
    ("kind", "object_id", "named"),
    [
        ("lot", "urn:raretrace:lot:CN-MINE:ore-1", "CN-MINE"),
        ("lot", "urn:raretrace:lot:CN-MINE:a:b", "CN-MINE"),  # the first segment names the facility
        ("lot", "urn:raretrace:lot:ore-1", None),  # no facility segment: open
        ("lot", "urn:raretrace:lot:CN-MINE:", None),  # nothing after the facility: not in a namespace
        ("lot", "urn:epc:id:sgtin:0614141.107346.2017", None),  # another URN scheme: open
        ("event", "urn:raretrace:event:JP-MAG:t-1", "JP-MAG"),
        ("event", "urn:raretrace:lot:JP-MAG:t-1", None),  # a lot prefix does not make an event namespace
        ("event", "ev-1", None),
    ],
)
def test_owner_reads_the_facility_segment(kind: str, object_id: str, named: str | None) -> None:
    assert owner(kind, object_id) == named  # type: ignore[arg-type]  # parametrized str for the Literal


def test_only_the_facility_itself_creates_ids_in_its_namespace() -> None:
    check_new_id("lot", "urn:raretrace:lot:CN-MINE:1", "CN-MINE", "f", required=True)
    check_new_id("lot", "urn:raretrace:lot:cn-mine:1", "CN-MINE", "f", required=True)  # case is no disguise
    for facility in ("JP-MAG", None):
        with pytest.raises(AuthorizationError, match="namespace of facility CN-MINE"):
            check_new_id("lot", "urn:raretrace:lot:CN-MINE:1", facility, "f", required=False)
    check_new_id("lot", "urn:raretrace:lot:ore-1", "JP-MAG", "f", required=False)  # open ids stay open
    with pytest.raises(AuthorizationError, match="urn:raretrace:lot:JP-MAG:…"):
        check_new_id("lot", "urn:raretrace:lot:ore-1", "JP-MAG", "f", required=True)
    check_new_id("event", "ev-1", None, "f", required=True)  # the secretariat's own acts


@pytest.fixture(name="strict")
def strict_chain(tmp_path: Path) -> ScriptedChain:
    registry = Registry.init(
        make_engine(f"sqlite:///{tmp_path / 'r.db'}"), "t.example/log", namespaced_ids=True
    )
    chain = ScriptedChain(registry)
    chain.add_facility("CN-MINE", country="CN", stages=["mining"])
    return chain


def test_a_strict_registry_refuses_open_ids_and_writes_nothing(strict: ScriptedChain) -> None:
    before = snapshot(strict.registry)
    open_lot = [lot("urn:raretrace:lot:ore-1", "ore", 10.0, ORE)]
    with pytest.raises(AuthorizationError, match="lot id urn:raretrace:lot:ore-1 is outside"):
        strict.record(
            "CN-MINE", "extract", event_id="urn:raretrace:event:CN-MINE:1", deposit="d", outputs=open_lot
        )
    own_lot = [lot("urn:raretrace:lot:CN-MINE:ore-1", "ore", 10.0, ORE)]
    with pytest.raises(AuthorizationError, match="event id ev-open is outside"):
        strict.record("CN-MINE", "extract", event_id="ev-open", deposit="d", outputs=own_lot)
    assert snapshot(strict.registry) == before
    strict.record(
        "CN-MINE", "extract", event_id="urn:raretrace:event:CN-MINE:1", deposit="d", outputs=own_lot
    )
    with pytest.raises(DuplicateError, match="lot urn:raretrace:lot:CN-MINE:ore-1 already exists"):
        strict.record(
            "CN-MINE", "extract", event_id="urn:raretrace:event:CN-MINE:2", deposit="d", outputs=own_lot
        )
    # the rule is the registry's, not the process's: a registry opened afresh keeps it
    assert Registry(strict.registry.engine).namespaced_ids


def test_init_namespaced_ids_option(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(
        app, ["--db", str(db), "init", "--origin", "t.example/log", "--namespaced-ids"]
    )
    assert result.exit_code == 0, result.output
    assert Registry(make_engine(f"sqlite:///{db}")).namespaced_ids
    plain = tmp_path / "plain.db"
    assert CliRunner().invoke(app, ["--db", str(plain), "init", "--origin", "t.example/log"]).exit_code == 0
    assert not Registry(make_engine(f"sqlite:///{plain}")).namespaced_ids
