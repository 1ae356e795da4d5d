"""Every kind of bad input the issue names: a clear error, and the database and log unchanged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from raretrace.crypto.dsse import add_signature
from raretrace.crypto.keys import Ed25519Signer, PublicKey
from raretrace.custody.events import sign_event
from raretrace.custody.namespaces import namespaced
from raretrace.errors import (
    AuthorizationError,
    CustodyError,
    DuplicateError,
    MassBalanceError,
    RaretraceError,
    SignatureError,
    ValidationError,
)
from raretrace.ledger.scripted import ScriptedChain, lot
from tests.chain_fixtures import ORE_LOT, SEPARATION_EVENT, mine_and_separator, separation, snapshot


def _rejects(chain: ScriptedChain, envelope: bytes, error: type[RaretraceError], pattern: str) -> None:
    before = snapshot(chain.registry)
    with pytest.raises(error, match=pattern):
        chain.registry.append([envelope])
    assert snapshot(chain.registry) == before


def _shipped(db_url: str) -> ScriptedChain:
    chain = mine_and_separator(db_url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    return chain


def test_malformed_json(db_url: str) -> None:
    _rejects(
        mine_and_separator(db_url),
        b'{"payload": "abc", ',
        ValidationError,
        "envelope 0: envelope: malformed JSON: Expecting property name",
    )


def test_bad_base64_payload(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    env = json.loads(separation(chain))
    env["payload"] = env["payload"][:-3] + "!!="
    _rejects(
        chain, json.dumps(env).encode(), ValidationError, r"envelope 0: .*envelope.payload.*not valid base64"
    )


def test_bad_base64_signature(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    env = json.loads(separation(chain))
    env["signatures"][0]["sig"] = "not base64 at all"
    _rejects(chain, json.dumps(env).encode(), ValidationError, r"signatures\[0\]\.sig.*not valid base64")


def test_wrong_signature(db_url: str) -> None:
    chain = _shipped(db_url)
    env = json.loads(separation(chain))
    other = json.loads(separation(chain, out_mass=9.0))
    env["signatures"] = other["signatures"]  # a real signature by the right key, over another payload
    _rejects(chain, json.dumps(env).encode(), SignatureError, "envelope 0 .*does not verify over the payload")


def test_unknown_key(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain,
        separation(chain, signer=Ed25519Signer.generate()),
        SignatureError,
        "unknown key .*not registered to any facility",
    )


def test_revoked_key(db_url: str) -> None:
    chain = _shipped(db_url)
    key = chain.signers["US-SEP"]
    chain.record(
        "US-SEP", "revoke_key", key_id=key.key_id, revoked_at="2026-01-01T00:00:00Z", reason="laptop stolen"
    )
    _rejects(chain, separation(chain), SignatureError, "was revoked at 2026-01-01")


def test_back_dated_event_by_a_revoked_key_needs_the_secretariat(db_url: str) -> None:
    """Revoked from 2026-06-01: a thief can still date events before that, so once the revocation is
    recorded such an event is refused unless the secretariat countersigns it."""
    chain = _shipped(db_url)
    key = chain.signers["US-SEP"]
    chain.record(
        "US-SEP", "revoke_key", key_id=key.key_id, revoked_at="2026-06-01T00:00:00Z", reason="laptop stolen"
    )
    back_dated = separation(chain)  # dated 2026-01-05, inside the key's validity
    _rejects(chain, back_dated, SignatureError, "has been revoked .*needs the secretariat's countersignature")
    before = int(snapshot(chain.registry)["tree_size"])
    chain.registry.append([add_signature(back_dated, chain.registry.signer)])
    assert int(snapshot(chain.registry)["tree_size"]) == before + 1


def test_key_used_before_its_validity(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain,
        separation(chain, time="2019-06-01T00:00:00Z"),
        SignatureError,
        "is valid from 2020-01-01.* not at the event's time 2019-06-01",
    )


def test_key_used_after_rotation(db_url: str) -> None:
    chain = _shipped(db_url)
    old = chain.signers["US-SEP"]
    new = Ed25519Signer.generate()
    chain.record(
        "US-SEP",
        "rotate_key",
        new_key={"public_key": PublicKey(new.public_key).to_b64()},
        retire_key_id=old.key_id,
        retire_at="2026-01-05T08:00:00Z",
    )
    _rejects(
        chain,
        separation(chain, time="2026-02-01T00:00:00Z", signer=old),
        SignatureError,
        "is valid from .* until 2026-01-05",
    )
    chain.registry.append([separation(chain, time="2026-02-01T00:00:00Z", signer=new)])


def test_spending_a_lot_held_by_another_facility(db_url: str) -> None:
    chain = mine_and_separator(db_url)  # ore still at the mine
    _rejects(chain, separation(chain), CustodyError, f"lot {ORE_LOT} is held by US-MINE, not by US-SEP")


def test_consuming_more_than_remains(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain, separation(chain, consume=1200.0), CustodyError, "consumes 1200 kg .* only 1000 kg remain"
    )


def test_output_element_mass_above_input(db_url: str) -> None:
    chain = _shipped(db_url)
    # 1000 kg ore holds 2.9 kg Pr; 20 kg of oxide at 21% Pr would hold 4.2 kg (Pr is checked before Nd)
    _rejects(
        chain,
        separation(chain, out_mass=20.0),
        MassBalanceError,
        "outputs hold 4.2 kg of Pr but inputs only 2.9 kg \\(tolerance 1.0%\\)",
    )


def test_negative_mass(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain,
        _unsigned_check(chain, lambda e: e["outputs"][0].update(mass_kg=-5)),
        ValidationError,
        r"outputs\[0\]\.mass_kg: must be > 0, got -5",
    )


def test_composition_above_one(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain,
        _unsigned_check(chain, lambda e: e["outputs"][0].update(composition={"Nd": 0.7, "Pr": 0.4})),
        ValidationError,
        "mass fractions sum to 1.1, above 1",
    )


def test_duplicate_event(db_url: str) -> None:
    chain = _shipped(db_url)
    envelope = separation(chain)
    chain.registry.append([envelope])
    _rejects(chain, envelope, DuplicateError, f"event {SEPARATION_EVENT} is already recorded")


def test_facility_cannot_sign_for_another(db_url: str) -> None:
    chain = _shipped(db_url)
    _rejects(
        chain,
        separation(chain, signer=chain.signers["US-MINE"]),
        AuthorizationError,
        "must be signed by a current key of facility US-SEP",
    )


def test_facility_cannot_register_facilities(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    forged = chain.facility_event("XX-ROGUE", country="US", stages=["mining"])
    env = json.loads(forged)
    statement = json.loads(base64.b64decode(env["payload"]))
    _rejects(
        chain,
        sign_event(statement["predicate"], [chain.signers["US-MINE"]]),
        AuthorizationError,
        "register_facility event must be signed by a current key of the registry secretariat",
    )


def _unsigned_check(chain: ScriptedChain, mutate: Callable[[dict], None]) -> bytes:
    """A separation event mutated into something invalid, wrapped and signed without the usual parse."""
    from raretrace.crypto.dsse import sign_statement
    from raretrace.custody.events import predicate_type

    event = {
        "kind": "process",
        "event_id": namespaced("event", "US-SEP", "bad"),
        "time": chain.time,
        "facility": "US-SEP",
        "stage": "separation",
        "inputs": [{"lot": ORE_LOT, "mass_kg": 1000.0}],
        "outputs": [lot(namespaced("lot", "US-SEP", "bad"), "separated_oxide", 5.0, {"Nd": 0.5})],
    }
    mutate(event)
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [],
        "predicateType": predicate_type("process"),
        "predicate": event,
    }
    return sign_statement(statement, [chain.signers["US-SEP"]])


@pytest.mark.parametrize("pool_kind", ["executor", "pipes"])
def test_wrong_signature_found_by_worker_processes(db_url: str, pool_kind: str) -> None:
    """The same rejection when signatures are verified in worker processes during validation (a
    ``ProcessPoolExecutor`` or the pipe-fed ``VerifierPool``), the batch written meanwhile and
    rolled back."""
    from concurrent.futures import ProcessPoolExecutor

    from raretrace.crypto.verifier_pool import VerifierPool
    from raretrace.ledger.registry import Registry

    chain = _shipped(db_url)
    batch = [
        chain.envelope(
            "US-MINE",
            "extract",
            deposit="Mountain Pass",
            outputs=[lot(namespaced("lot", "US-MINE", f"p-{i}"), "ore", 1.0, {"Nd": 0.01})],
        )
        for i in range(300)
    ]
    env = json.loads(batch[217])
    env["signatures"] = json.loads(batch[3])["signatures"]
    batch[217] = json.dumps(env).encode()
    with ProcessPoolExecutor(2) if pool_kind == "executor" else VerifierPool(2) as pool:
        pooled = ScriptedChain(Registry(chain.registry.engine, signature_pool=pool))
        before = snapshot(pooled.registry)
        with pytest.raises(SignatureError, match="envelope 217 .*does not verify over the payload"):
            pooled.registry.append(batch)
        assert snapshot(pooled.registry) == before
        pooled.registry.append(batch[:217])
