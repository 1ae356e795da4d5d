"""The compact stored text of origin vectors (``raretrace.origin_text``, migration 0017).

What must hold is exactness: a vector read back is the vector written (same elements and paths in the
same order, every share the same double bit for bit), so the JSON written from it is the JSON the
registry wrote before; a vector the format cannot carry is kept as JSON. And the place codes stay in
the text, which is what the search's SQL pre-filter for a country relies on.
"""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from raretrace.ledger.audit import audit
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.origin_text import decode_origin, encode_origin
from raretrace.provenance import STAGE_CODES, ElementOrigin, LotOrigin, path_key
from raretrace.store import db
from raretrace.store.db import make_engine
from tests.chain_fixtures import new_registry
from tests.test_joint_origin import _downgrade  # the one helper that takes a registry down

PLACES = st.sampled_from(["AU", "CN", "JP", "MY", "US", "EE", "unknown"])
STAGES = st.sampled_from(sorted(STAGE_CODES))
STEPS = st.dictionaries(STAGES, st.tuples(PLACES, PLACES), max_size=5)
PATH_KEYS = STEPS.map(path_key)  # "" (untraced) included
SHARES = st.floats(min_value=0.0, max_value=1.0) | st.sampled_from([1.0, 0.0, 5e-324, 1 - 2**-53])
PATHS = st.dictionaries(PATH_KEYS, SHARES, min_size=1, max_size=8)
SYMBOLS = st.sampled_from(["Nd", "Pr", "Dy", "Tb", "La", "Ce", "Sm", "Y"])
PATH_VECTORS = st.dictionaries(SYMBOLS, PATHS.map(lambda p: ElementOrigin(paths=p)), min_size=1, max_size=8)


def _bits(origin: LotOrigin) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """The vector as ordered (element, [(path, the share's 8 bytes)]): equality here is exactness."""
    return [
        (element, [(key, struct.pack("<d", share)) for key, share in history["paths"].items()])
        for element, history in origin.items()
    ]


@given(PATH_VECTORS)
def test_a_path_vector_reads_back_exactly_and_writes_the_same_json(origin: LotOrigin) -> None:
    stored = encode_origin(origin)
    assert stored.startswith("~")
    back = decode_origin(stored)
    assert _bits(back) == _bits(origin)
    assert json.dumps(back, separators=(",", ":")) == json.dumps(origin, separators=(",", ":"))


@given(PATH_VECTORS)
def test_every_place_of_every_path_stays_visible_to_the_country_prefilter(origin: LotOrigin) -> None:
    stored = encode_origin(origin)
    for history in origin.values():
        for key in history["paths"]:
            for part in filter(None, key.split("|")):
                place = part.partition("=")[2].partition("@")[0]
                assert f"={place}" in stored


@given(PATH_VECTORS)
def test_json_written_before_reads_the_same(origin: LotOrigin) -> None:
    written = json.dumps(origin, separators=(",", ":"))
    assert _bits(decode_origin(written)) == _bits(origin)


def test_shared_histories_and_steps_are_written_once() -> None:
    """Four elements with the same three histories (a blend, so shares of ~17 digits): each step once,
    each key a character a step, 11 characters a share."""
    keys = ["mi=AU|se=CN|ma=JP", "mi=AU|se=JP|ma=JP", "mi=US|se=JP@CN|ma=JP"]
    shares = [((i + 1) / 13, (i + 2) / 17, 1 - (i + 1) / 13 - (i + 2) / 17) for i in range(4)]
    origin: LotOrigin = {
        e: {"paths": dict(zip(keys, s, strict=True))}
        for e, s in zip(["Nd", "Pr", "Dy", "Tb"], shares, strict=True)
    }
    stored = encode_origin(origin)
    assert stored.startswith("~mi=AU;se=CN;ma=JP;se=JP;mi=US;se=JP@CN 012;032;452 Nd/")
    assert len(stored) == len("~mi=AU;se=CN;ma=JP;se=JP;mi=US;se=JP@CN 012;032;452") + 4 * (1 + 2 + 1 + 32)
    assert len(stored) < len(json.dumps(origin, separators=(",", ":"))) / 2


def test_more_steps_than_digits_take_two_characters_each() -> None:
    keys = [f"mi={a}{b}|se=JP" for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ"]  # 101 distinct steps
    origin: LotOrigin = {"Nd": {"paths": {key: 1 / len(keys) for key in keys}}}
    stored = encode_origin(origin)
    assert stored.split(" ")[1].split(";")[:2] == ["0001", "0201"]  # mi=AA is step 0, se=JP step 1
    assert _bits(decode_origin(stored)) == _bits(origin)


def test_an_element_with_other_paths_names_them_by_index() -> None:
    origin: LotOrigin = {
        "Nd": {"paths": {"mi=AU": 0.5, "mi=CN": 0.5}},
        "Dy": {"paths": {"mi=CN": 1.0}},
        "Pr": {"paths": {"mi=CN": 0.75, "mi=AU": 0.25}},
    }
    stored = encode_origin(origin)
    assert " Dy:1 " in stored  # one path of share 1.0: no shares written
    assert " Pr:1,0/" in stored
    assert _bits(decode_origin(stored)) == _bits(origin)


def test_what_the_compact_form_cannot_carry_is_kept_as_json() -> None:
    marginals = {"Nd": {"location": {"mining": {"CN": 1.0}}, "technology": {"mining": {"CN": 1.0}}}}
    odd_key: LotOrigin = {"Nd": {"paths": {"mi=C N": 1.0}}}
    empty_step: LotOrigin = {"Nd": {"paths": {"mi=CN||se=JP": 1.0}}}
    int_share = {"Nd": {"paths": {"mi=CN": 1}}}
    for origin in (marginals, odd_key, empty_step, int_share, {}):
        stored = encode_origin(origin)  # type: ignore[arg-type]  # the shapes older imports hold
        assert stored == json.dumps(origin, separators=(",", ":"))
        assert decode_origin(stored) == origin


def _chain(url: str) -> ScriptedChain:
    """Ore from two countries blended into one oxide: two paths per element, two elements."""
    chain = ScriptedChain(new_registry(url, open_ids=True))  # a registry from before namespaced ids
    chain.add_facility("AU-MINE", country="AU", stages=["mining"])
    chain.add_facility("US-MINE", country="US", stages=["mining"])
    chain.add_facility("JP-SEP", country="JP", stages=["separation"], technology={"separation": "CN"})
    ores = []
    for mine, share in (("AU-MINE", 0.1), ("US-MINE", 0.07)):
        ore = f"urn:raretrace:lot:{mine.lower()}-ore"
        chain.record(
            mine,
            "extract",
            deposit=mine,
            outputs=[lot(ore, "concentrate", 1000.0, {"Nd": share, "Pr": 0.03})],
        )
        chain.ship(mine, "JP-SEP", [ore])
        ores.append(ore)
    chain.record(
        "JP-SEP",
        "process",
        stage="separation",
        inputs=[{"lot": ore, "mass_kg": 1000.0} for ore in ores],
        outputs=[lot("urn:raretrace:lot:jp-oxide", "separated_oxide", 150.0, {"Nd": 0.8, "Pr": 0.2})],
    )
    return chain


def _stored(url: str) -> dict[str, str]:
    with make_engine(url).connect() as conn:
        return dict(conn.execute(text("SELECT id, origin FROM lots ORDER BY id")).all())


def test_migration_0017_converts_both_ways_and_the_registry_reads_the_same(db_url: str) -> None:
    chain = _chain(db_url)
    registry = chain.registry
    oxide = registry.lot("urn:raretrace:lot:jp-oxide").origin()
    assert oxide["Nd"]["paths"] == pytest.approx({"mi=AU|se=JP@CN": 100 / 170, "mi=US|se=JP@CN": 70 / 170})
    compact = _stored(db_url)
    assert all(stored.startswith("~") for stored in compact.values())

    _downgrade(db_url, "0016")
    as_json = _stored(db_url)
    assert all(stored.startswith("{") for stored in as_json.values())
    for lot_id, stored in as_json.items():  # what the code before 0017 wrote for these lots
        assert stored == json.dumps(decode_origin(compact[lot_id]), separators=(",", ":"))

    db.migrate(registry.engine)
    assert _stored(db_url) == compact
    assert registry.lot("urn:raretrace:lot:jp-oxide").origin() == oxide
    result = audit(registry)
    assert result.ok, result.problems
