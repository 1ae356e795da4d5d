"""A log key rotated while another process holds the registry open (a server, a witness loop): the
holder signs with the new key from its next use, with no restart, and never with the retired key.

The rotation itself (``ledger.log_key``) runs on a second handle, as ``consortium rotate-log-key``
does in its own process; the first handle was opened before it and is used as it stands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raretrace.certify.status import status_list_credential
from raretrace.certify.verify import TrustedKeys
from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.keys import Ed25519Signer, write_key_pair
from raretrace.crypto.multikey import did_key, did_key_verification_method
from raretrace.errors import ProofError, ValidationError
from raretrace.ledger.certificates import revoke, status_list, status_list_url, trusted_keys
from raretrace.ledger.log_key import rotate_log_key
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.note import verifier_key_text
from raretrace.store.db import make_engine
from tests.test_certificates import check, issued  # noqa: F401 -- issued is a fixture

ORIGIN = "registry.live.example/log"


def _key_text(key: Ed25519Signer) -> str:
    return verifier_key_text(ORIGIN, key.public_key)


def test_a_key_in_the_database_rotated_elsewhere_signs_the_next_append(db_url: str) -> None:
    first = Ed25519Signer.generate()
    serving = Registry.init(make_engine(db_url), ORIGIN, signer=first)
    chain = ScriptedChain(serving)
    chain.add_facility("XX-MINE", country="AU", stages=["mining"])
    new = Ed25519Signer.generate()
    rotated = rotate_log_key(Registry(make_engine(db_url)), new)
    # the handle opened before the rotation: its next append is signed with the new key only
    chain.add_facility("XX-MILL", country="AU", stages=["separation"])
    note = latest_checkpoint(serving)
    assert open_checkpoint(note, _key_text(new)).size == rotated.tree_size + 1
    with pytest.raises(ProofError):
        open_checkpoint(note, _key_text(first))
    # and what it hands out names the new key: the trusted-keys file, its public key
    issuers = trusted_keys(serving)["issuers"]
    assert isinstance(issuers, list)
    assert [i["logKey"] for i in issuers if isinstance(i, dict)] == [_key_text(new)]
    assert serving.public_key.raw == serving.signer.public_key == new.public_key


def test_a_key_kept_outside_is_read_again_after_a_rotation(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    key_file = tmp_path / "log.key"
    first = Ed25519Signer.generate()
    write_key_pair(first, key_file)
    Registry.init(make_engine(db), ORIGIN, signer=first, key_outside=True)
    serving = Registry(make_engine(db), key_file=key_file)
    chain = ScriptedChain(serving)
    chain.add_facility("XX-MINE", country="AU", stages=["mining"])
    new = Ed25519Signer.generate()
    rotated = rotate_log_key(Registry(make_engine(db)), new)
    # the key file still holds the retired key: the append is refused, nothing is written
    with pytest.raises(ValidationError) as refused:
        chain.add_facility("XX-MILL", country="AU", stages=["separation"])
    assert refused.value.field == "registry_key" and "rotated" in refused.value.message
    assert serving.tree_size() == rotated.tree_size
    # the operator puts the new key in the file: the same handle signs with it
    write_key_pair(new, tmp_path / "next.key")
    (tmp_path / "next.key").replace(key_file)
    chain.add_facility("XX-MILL", country="AU", stages=["separation"])
    assert open_checkpoint(latest_checkpoint(serving), _key_text(new)).size == rotated.tree_size + 1


def test_a_status_list_signed_after_a_rotation_covers_certificates_signed_before(
    issued: Any,  # noqa: F811 -- the fixture of tests/test_certificates.py
) -> None:
    """The registry publishes its status list under its current key; a certificate issued under the
    retired key is revoked (or not) in that list, for a verifier that trusts both keys for the log."""
    registry, presentation, only_old = issued
    before = trusted_keys(registry)
    rotate_log_key(registry, Ed25519Signer.generate())
    after = trusted_keys(registry)
    both = TrustedKeys.from_dict(
        {"issuers": [*before["issuers"], *after["issuers"]], "witnesses": before["witnesses"]}  # type: ignore[misc]  # JSON lists, as trusted_keys builds them
    )
    new_list = status_list(registry)
    ok, step, detail = check(presentation, only_old, status_list=new_list)
    assert not ok and step == "revocation" and "nor by another key trusted for its log" in detail
    assert check(presentation, both, status_list=new_list)[0]
    # a key trusted for another log does not speak for this one
    stranger = Ed25519Signer.generate()
    moment = new_list["validFrom"]
    assert isinstance(moment, str)
    foreign = add_proof(
        status_list_credential(status_list_url(registry), did_key(stranger.public_key), moment, []),
        stranger,
        verification_method=did_key_verification_method(stranger.public_key),
        created=moment,
    )
    other_log = {"id": did_key(stranger.public_key), "log": "other.example/log",
                 "logKey": verifier_key_text("other.example/log", stranger.public_key)}  # fmt: skip
    with_stranger = TrustedKeys.from_dict(
        {"issuers": [*before["issuers"], *after["issuers"], other_log], "witnesses": before["witnesses"]}  # type: ignore[misc]  # as above
    )
    ok, step, _ = check(presentation, with_stranger, status_list=foreign)
    assert not ok and step == "revocation"
    # revoked after the rotation: the new key's list says so
    revoke(registry, presentation["credential"]["credentialSubject"]["certificateNumber"], "diverted")
    ok, step, detail = check(presentation, both, status_list=status_list(registry))
    assert not ok and step == "revocation" and "revoked" in detail
