"""Hostile input refused at append with a clear error, and nothing written: envelopes too long for a
C2SP tlog-tiles entry bundle, numbers beyond any float or physical bound, times far from the
registry's clock, JSON nested beyond the reader, and assay results that are not measurements."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from raretrace.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, pae
from raretrace.custody.namespaces import namespaced
from raretrace.errors import ValidationError
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.log.tiles import MAX_ENTRY_BYTES, TilePath
from raretrace.model import MAX_MASS_KG, MAX_VALUE
from raretrace.server.logserve import tile_bytes
from tests.chain_fixtures import ORE_LOT, mine_and_separator, snapshot

ORE = {"Nd": 0.01, "other": 0.5}


@pytest.fixture(name="chain")
def chain_fixture(tmp_path: Path) -> ScriptedChain:
    return mine_and_separator(f"sqlite:///{tmp_path / 'r.db'}")


def mine_lot(name: str) -> str:
    """Lot ``name`` of the mine, in its namespace."""
    return namespaced("lot", "US-MINE", name)


def _refused(chain: ScriptedChain, envelope: bytes, field: str, words: str) -> ValidationError:
    before = snapshot(chain.registry)
    with pytest.raises(ValidationError) as caught:
        chain.registry.append([envelope])
    assert caught.value.field == field, caught.value
    assert words in caught.value.message, caught.value
    assert snapshot(chain.registry) == before
    return caught.value


def _extract(chain: ScriptedChain, count: int, **fields: Any) -> bytes:
    outputs = [lot(mine_lot(f"many-{i:05d}"), "ore", 10.0, ORE) for i in range(count)]
    return chain.envelope("US-MINE", "extract", deposit="Mountain Pass", outputs=outputs, **fields)


def _entry_bundle_lengths(data: bytes) -> list[int]:
    """The entry lengths of a C2SP entry bundle, read as the spec writes them (uint16 big-endian)."""
    lengths, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 2], "big")
        lengths.append(length)
        at += 2 + length
    assert at == len(data)
    return lengths


def test_the_largest_event_that_fits_is_recorded_and_served_and_one_more_output_is_refused(
    chain: ScriptedChain,
) -> None:
    """Many outputs: the most that fit in 65535 bytes are accepted and their entry bundle reads back;
    one more output is refused naming the limit."""
    count = 1
    while len(_extract(chain, count * 2)) <= MAX_ENTRY_BYTES:
        count *= 2
    low, high = count, count * 2  # fits, does not fit
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(_extract(chain, middle)) <= MAX_ENTRY_BYTES else (low, middle)
    fits, too_long = _extract(chain, low), _extract(chain, high)
    assert len(fits) <= 0xFFFF < len(too_long)  # 2^16 - 1: the largest a 16-bit length can say
    error = _refused(chain, too_long, "envelope", "at most 65535 bytes")
    assert error.context == "envelope 0" and str(len(too_long)) in error.message
    size = chain.registry.tree_size()
    chain.registry.append([fits])
    bundle = tile_bytes(chain.registry, TilePath(None, 0, size + 1))
    assert _entry_bundle_lengths(bundle)[-1] == len(fits)
    assert low > 100  # a legitimate event still carries a few hundred lots


def _resigned(chain: ScriptedChain, facility: str, envelope: bytes, old: bytes, new: bytes) -> bytes:
    """The envelope with ``old`` replaced by ``new`` in its payload's JSON text, signed again by the
    facility: numbers no serializer of ours would write reach the registry as a client could send."""
    payload = base64.b64decode(json.loads(envelope)["payload"])
    assert old in payload
    payload = payload.replace(old, new)
    signature = chain.signers[facility].sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))
    return json.dumps(
        {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [
                {"keyid": chain.signers[facility].key_id, "sig": base64.b64encode(signature).decode()}
            ],
        }
    ).encode()


@pytest.mark.parametrize(
    ("mass", "words"),
    [
        (b"1e308", "at most 1e+12"),
        (b"1.0001e12", "at most 1e+12"),
        (b"1e400", "finite"),
        (b"1" + b"0" * 400, "finite"),
        (b"-1", "> 0"),
    ],
)
def test_masses_beyond_the_bound_are_refused(chain: ScriptedChain, mass: bytes, words: str) -> None:
    envelope = chain.envelope(
        "US-MINE",
        "extract",
        deposit="x",
        outputs=[lot(mine_lot("huge"), "ore", 7.0, ORE)],
    )
    resigned = _resigned(chain, "US-MINE", envelope, b'"mass_kg":7', b'"mass_kg":' + mass)
    _refused(chain, resigned, "outputs[0].mass_kg", words)


def test_an_input_mass_of_ten_to_the_400_is_refused_not_an_overflow(chain: ScriptedChain) -> None:
    envelope = chain.envelope(
        "US-SEP",
        "process",
        stage="separation",
        inputs=[{"lot": ORE_LOT, "mass_kg": 7.0}],
        outputs=[lot(namespaced("lot", "US-SEP", "ox"), "separated_oxide", 1.0, {"Nd": 0.5})],
    )
    resigned = _resigned(chain, "US-SEP", envelope, b'"mass_kg":7', b'"mass_kg":1' + b"0" * 400)
    _refused(chain, resigned, "inputs[0].mass_kg", "finite")


def test_the_largest_mass_and_value_are_accepted(chain: ScriptedChain) -> None:
    declared = {"amount": MAX_VALUE, "currency": "USD"}
    chain.registry.append(
        [
            chain.envelope(
                "US-MINE",
                "extract",
                deposit="x",
                outputs=[lot(mine_lot("big"), "ore", MAX_MASS_KG, ORE, declared_value=declared)],
            )
        ]
    )
    assert chain.registry.lot(mine_lot("big")).spec.mass_kg == MAX_MASS_KG


def test_a_value_beyond_the_bound_is_refused(chain: ScriptedChain) -> None:
    declared = {"amount": 7, "currency": "USD"}
    envelope = chain.envelope(
        "US-MINE",
        "extract",
        deposit="x",
        outputs=[lot(mine_lot("dear"), "ore", 1.0, ORE, declared_value=declared)],
    )
    resigned = _resigned(chain, "US-MINE", envelope, b'"amount":7', b'"amount":1e16')
    _refused(chain, resigned, "outputs[0].declared_value", "at most 1e+15")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("offset", [timedelta(days=2), timedelta(days=365 * 1000), -timedelta(days=366 * 51)])
def test_times_outside_the_window_are_refused(chain: ScriptedChain, offset: timedelta) -> None:
    when = _iso(datetime.now(UTC) + offset)
    envelope = chain.envelope(
        "US-MINE",
        "extract",
        deposit="x",
        time=when,
        outputs=[lot(mine_lot("when"), "ore", 1.0, ORE)],
    )
    _refused(chain, envelope, "time", "outside the registry's window")


def test_times_inside_the_window_are_accepted(chain: ScriptedChain) -> None:
    # (the facility's key is valid from 2020: older times are refused by the key check instead)
    for i, when in enumerate((datetime.now(UTC) + timedelta(hours=23), datetime(2020, 6, 1, tzinfo=UTC))):
        chain.record(
            "US-MINE",
            "extract",
            deposit="x",
            time=_iso(when),
            outputs=[lot(mine_lot(f"when-{i}"), "ore", 1.0, ORE)],
        )


def test_deeply_nested_json_is_a_validation_error(chain: ScriptedChain) -> None:
    deep = b'{"payload":' + b"[" * 30_000 + b"]" * 30_000 + b"}"  # within the size limit
    _refused(chain, deep, "envelope", "nested too deeply")
    inner = base64.b64encode(b"[" * 20_000 + b"]" * 20_000).decode()
    envelope = json.dumps(
        {"payload": inner, "payloadType": "application/vnd.in-toto+json", "signatures": []}
    ).encode()
    with pytest.raises(ValidationError):
        chain.registry.append([envelope])


@pytest.mark.parametrize(
    ("results", "field"),
    [
        (b'{"Nd":1' + b"0" * 400 + b"}", "results.Nd"),
        (b'{"Nd":1e999}', "results.Nd"),
        (b'{"Nd":{"a":{"b":{"c":1}}}}', "results.Nd.a.b"),
        (b'{"Nd":[1,2]}', "results.Nd"),
    ],
)
def test_assay_results_must_be_measurements(chain: ScriptedChain, results: bytes, field: str) -> None:
    chain.add_facility("US-LAB", country="US", stages=["assay"], accreditation="ISO/IEC 17025:2017")
    envelope = chain.envelope("US-LAB", "assay", lot=ORE_LOT, method="ICP-MS", results={"Nd": 7})
    _refused(chain, _resigned(chain, "US-LAB", envelope, b'{"Nd":7}', results), field, "")
