"""Id namespaces (custody/namespaces.py): only a facility's own events create ids in its namespace; a
new registry requires namespaced ids unless made with --open-ids, and `raretrace
require-namespaced-ids` switches a legacy one. The competitor's side (the refusal reads the same
whether an id exists) is in test_competitor.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select
from typer.testing import CliRunner

from raretrace.cli.main import app
from raretrace.custody.namespaces import Kind, check_new_id, is_open, namespaced, own_prefix, owner
from raretrace.errors import AuthorizationError, DuplicateError, StoreError
from raretrace.ledger.registry import ID_NAMESPACES, Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store import schema as t
from raretrace.store.db import make_engine
from raretrace.store.store import Store
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
    """A registry made with the defaults: namespaced ids required."""
    registry = Registry.init(make_engine(f"sqlite:///{tmp_path / 'r.db'}"), "t.example/log")
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


def test_init_requires_namespaces_unless_told_open_ids(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(app, ["--db", str(db), "init", "--origin", "t.example/log", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["namespaced_ids"] is True
    assert Registry(make_engine(f"sqlite:///{db}")).namespaced_ids
    legacy = tmp_path / "legacy.db"
    opened = CliRunner().invoke(app, ["--db", str(legacy), "init", "--origin", "t.example/log", "--open-ids"])
    assert opened.exit_code == 0, opened.output
    assert "open ids accepted" in opened.stderr
    assert not Registry(make_engine(f"sqlite:///{legacy}")).namespaced_ids


def test_a_facility_id_with_colons_has_a_namespace_too() -> None:
    """A GS1 SGLN as facility id (what EPCIS files name): its ids are its own by their prefix."""
    sgln = "urn:epc:id:sgln:0614141.00001.0"
    check_new_id("lot", f"urn:raretrace:lot:{sgln}:oxide-1", sgln, "f", required=True)
    assert not is_open("lot", f"urn:raretrace:lot:{sgln}:oxide-1", sgln)
    with pytest.raises(AuthorizationError, match="namespace of facility urn"):
        check_new_id("lot", f"urn:raretrace:lot:{sgln}:oxide-1", "JP-MAG", "f", required=True)


# --- switching a legacy registry -------------------------------------------------------------------

LEGACY_LOT = "urn:raretrace:lot:ore-legacy-1"
LEGACY_EVENT = "ev-legacy-1"


def legacy_registry(tmp_path: Path) -> tuple[Path, ScriptedChain]:
    """A registry made with --open-ids where CN-MINE recorded an open lot id in an open event id, and
    one namespaced lot of its own."""
    db = tmp_path / "legacy.db"
    made = CliRunner().invoke(app, ["--db", str(db), "init", "--origin", "t.example/log", "--open-ids"])
    assert made.exit_code == 0, made.output
    chain = ScriptedChain(Registry(make_engine(f"sqlite:///{db}")))
    chain.add_facility("CN-MINE", country="CN", stages=["mining"])
    chain.add_facility("JP-MAG", country="JP", stages=["magnet"])
    chain.record(
        "CN-MINE", "extract", event_id=LEGACY_EVENT, deposit="d", outputs=[lot(LEGACY_LOT, "ore", 9.0, ORE)]
    )
    chain.record(
        "CN-MINE", "extract", deposit="d", outputs=[lot(namespaced("lot", "CN-MINE", "o"), "ore", 1.0, ORE)]
    )
    return db, chain


def switch(db: Path, *flags: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["--db", str(db), "require-namespaced-ids", "--json", *flags])
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_the_switch_reports_old_open_ids_per_facility_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    db, chain = legacy_registry(tmp_path)
    before = snapshot(chain.registry)
    dry = switch(db, "--dry-run")
    assert dry == {
        "was_required": False,
        "changed": False,
        "open_ids": [{"facility": "CN-MINE", "lots": 1, "events": 1, "examples": [LEGACY_LOT, LEGACY_EVENT]}],
    }
    assert snapshot(chain.registry) == before
    assert not Registry(chain.registry.engine).namespaced_ids


def test_the_switch_holds_for_new_ids_only_and_is_idempotent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, chain = legacy_registry(tmp_path)
    with caplog.at_level("INFO", logger="raretrace.audit"):
        done = switch(db)
    assert done["changed"] is True and done["was_required"] is False
    assert "now requires namespaced lot and event ids" in caplog.text
    # the registry object opened before the switch sees it at its next append (no restart)
    with pytest.raises(AuthorizationError, match="outside facility CN-MINE's namespace"):
        chain.record(
            "CN-MINE", "extract", event_id="ev-2", deposit="d", outputs=[lot("urn:x:2", "ore", 1.0, ORE)]
        )
    # the old open lot stays valid: its holder ships it (in a namespaced event)
    chain.ship("CN-MINE", "JP-MAG", [LEGACY_LOT])
    again = switch(db)
    assert again["changed"] is False and again["was_required"] is True
    assert again["open_ids"] == done["open_ids"]  # still reported: they stay valid as they are
    text = CliRunner().invoke(app, ["--db", str(db), "require-namespaced-ids"])
    assert text.exit_code == 0 and "already requires namespaced ids" in text.output


def test_the_switch_on_a_registry_with_only_namespaced_ids(strict: ScriptedChain, tmp_path: Path) -> None:
    strict.record(
        "CN-MINE", "extract", deposit="d", outputs=[lot(namespaced("lot", "CN-MINE", "x"), "ore", 1.0, ORE)]
    )
    url = str(strict.registry.engine.url).removeprefix("sqlite:///")
    result = CliRunner().invoke(app, ["--db", url, "require-namespaced-ids"])
    assert result.exit_code == 0, result.output
    assert "every id a facility recorded is in its namespace" in result.output


def test_the_switch_needs_a_registry(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "none.db"), "require-namespaced-ids"])
    assert isinstance(result.exception, StoreError) and result.exception.exit_code == 7, result.output


#: Facility ids as the registry accepts them (model.parse_id: a letter or digit, then . _ : / # @ + -)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
FACILITY_IDS = st.builds(
    str.__add__, st.sampled_from(_ALNUM), st.text(alphabet=_ALNUM + "._:/#@+-", max_size=23)
)
LOCAL_NAMES = st.text(alphabet=_ALNUM + "._-", min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["lot", "event"]), facility=FACILITY_IDS, other=FACILITY_IDS, local=LOCAL_NAMES)
def test_a_facility_may_create_exactly_the_ids_in_its_own_namespace(
    kind: Kind, facility: str, other: str, local: str
) -> None:
    """For any facility ids (colons included): the facility's own namespaced id passes the check in a
    registry requiring namespaces, and another facility is refused it, unless the other's namespace
    prefix is the same text (ids equal regardless of case) or contains it (a facility id that
    extends the other's with a colon, which docs/security.md names as the one ambiguity)."""
    own = namespaced(kind, facility, local)
    check_new_id(kind, own, facility, "f", required=True)
    assert not is_open(kind, own, facility)
    shares = own.casefold().startswith(own_prefix(kind, other).casefold()) and len(own) > len(
        own_prefix(kind, other)
    )
    if shares:
        check_new_id(kind, own, other, "f", required=True)
    else:
        with pytest.raises(AuthorizationError):
            check_new_id(kind, own, other, "f", required=True)
    with pytest.raises(AuthorizationError):  # the secretariat creates no id in a facility's namespace
        check_new_id(kind, own, None, "f", required=True)


# --- what the switch writes, and what a refused one leaves ----------------------------------------


def dump(registry: Registry) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a fixed order: the log's tiles and checkpoints are tables too, so
    equal dumps mean an unchanged database and log."""
    with registry.engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for name, table in t.metadata.tables.items()
        }


def test_the_switch_on_free_form_ids_writes_its_one_setting_and_nothing_else(tmp_path: Path) -> None:
    """Free-form ids do not make the switch refuse (they stay valid, docs/security.md): it writes the
    setting, and every other row, the log's tiles and its checkpoints are as they were."""
    db, chain = legacy_registry(tmp_path)
    before = dump(chain.registry)
    assert switch(db)["changed"] is True
    after = dump(chain.registry)
    assert set(after["meta"]) - set(before["meta"]) == {(ID_NAMESPACES, "required")}
    assert {row for row in before["meta"] if row[0] != ID_NAMESPACES} == {
        row for row in after["meta"] if row[0] != ID_NAMESPACES
    }
    assert {k: v for k, v in after.items() if k != "meta"} == {k: v for k, v in before.items() if k != "meta"}


def test_a_refused_switch_leaves_the_database_and_the_log_exactly_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The setting's write fails after the survey (a full disk, a lost connection): the transaction
    that surveyed and held appends back is rolled back whole, the command exits non-zero naming the
    field, and nothing is announced as switched."""
    db, chain = legacy_registry(tmp_path)
    before = dump(chain.registry)

    write = Store.set_meta

    def refuse(self: Store, conn: Connection, key: str, value: str) -> None:
        write(self, conn, key, value)  # the row is written, then the write fails: the rollback must undo it
        raise StoreError(f"the database refused to store {key}", field="db")

    monkeypatch.setattr(Store, "set_meta", refuse)
    with caplog.at_level("INFO", logger="raretrace.audit"):
        result = CliRunner().invoke(app, ["--db", str(db), "require-namespaced-ids"])
    assert isinstance(result.exception, StoreError) and result.exit_code != 0, result.output
    assert result.exception.field == "db" and ID_NAMESPACES in result.exception.message
    assert "now requires" not in caplog.text
    monkeypatch.undo()
    assert dump(chain.registry) == before
    assert not Registry(chain.registry.engine).namespaced_ids
    # and the legacy registry still takes an open id: the refused switch did not half-happen
    chain.record(
        "CN-MINE", "extract", event_id="ev-after", deposit="d", outputs=[lot("urn:x:3", "ore", 1.0, ORE)]
    )
