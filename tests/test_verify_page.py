"""The verification page says what the certificate certifies — parties, lots, mass, value, origin by
stage, verdicts — read from the credential itself, not only that the eight steps passed."""

from __future__ import annotations

import copy
import json
import re

from raretrace.ledger.certificates import issue
from raretrace.ledger.scripted import US_CHAIN
from tests.test_server_support import ServerWorld, shared_fixture  # noqa: F401


def _post(shared: ServerWorld, certificate: dict[str, object]) -> str:
    answer = shared.client.post("/verify", data={"certificate": json.dumps(certificate)})
    assert answer.status_code == 200, answer.text
    return answer.text


def _section(html: str) -> str:
    found = re.search(
        r'<div class="card" id="certified">(.*?)</div>\s*\n?\s*(?:<div class="card">|$)', html, re.S
    )
    assert found, "no 'What it certifies' section"
    return found[1]


def test_the_page_shows_what_the_certificate_certifies(shared: ServerWorld) -> None:
    presentation = issue(shared.registry, lots=[US_CHAIN.magnet]).to_dict()
    html = _post(shared, presentation)
    assert "Certificate verified" in html
    section = _section(html)
    subject = presentation["credential"]["credentialSubject"]
    assert subject["certificateNumber"] in section
    assert US_CHAIN.magnet in section and "magnet" in section
    # the origin table names every stage the signed origin vector has
    signed_lot = json.dumps(presentation)
    for stage in ("mining", "separation", "metallization", "magnet"):
        assert stage in signed_lot and f"<th>{stage}</th>" in section
    assert "us-dfars-252.225-7052" in section  # verdicts as certified
    assert "Not verified" not in section


def test_a_rejected_certificate_is_shown_as_claims_only(shared: ServerWorld) -> None:
    good = issue(shared.registry, lots=[US_CHAIN.magnet]).to_dict()
    tampered = copy.deepcopy(good)
    tampered["credential"]["credentialSubject"]["certificateNumber"] += "-X"
    html = _post(shared, tampered)
    assert "REJECTED" in html
    assert "Not verified: this is what the file claims" in _section(html)
