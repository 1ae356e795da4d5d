"""The lot page links each certificate that covers the lot for view and download, as the caller may
see it (issue 20; docs/security.md): the download verifies as it is, another operator sees neither
the links nor the certificate, and a certificate that also names another participant's lot is withheld."""

from __future__ import annotations

import json

import pytest

from raretrace.certify.credential import Presentation
from raretrace.ledger.certificates import issue
from tests.test_server_support import (  # noqa: F401 (fixtures)
    JP_MAGNET,
    US_MAGNET,
    ServerWorld,
    logged_in,
    world_fixture,
)


def _number(certificate: Presentation) -> str:
    return certificate.number


def test_lot_page_links_view_and_download(world: ServerWorld) -> None:
    own = issue(world.registry, lots=[JP_MAGNET])
    number = _number(own)
    with logged_in(world, "jp") as c:
        lot = c.get(f"/lots/{JP_MAGNET}").text
        assert f'href="/certificates/{number}"' in lot and f'href="/certificates/{number}/download"' in lot
        view = c.get(f"/certificates/{number}")
        download = c.get(f"/certificates/{number}/download")
    assert view.status_code == 200 and number in view.text and "<svg" in view.text  # the printable page, QR
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="{number}.json"'
    saved = download.json()
    assert saved == {"credential": own.credential, "disclosures": []}
    # the file downloaded verifies as it is, with its concealed fields concealed
    checked = world.client.post("/verify", files={"file": ("c.json", download.content, "application/json")})
    assert checked.status_code == 200 and "Certificate verified" in checked.text


def test_other_callers(world: ServerWorld) -> None:
    number = _number(issue(world.registry, lots=[JP_MAGNET]))
    shared = _number(issue(world.registry, lots=[JP_MAGNET, US_MAGNET]))
    with logged_in(world, "us") as c:  # another operator: as if the certificate did not exist
        assert c.get(f"/certificates/{number}").status_code == 404
        assert c.get(f"/certificates/{number}/download").status_code == 404
    with logged_in(world, "jp") as c:  # names the US operator's lot too: withheld, no links
        lot = c.get(f"/lots/{JP_MAGNET}").text
        assert f'href="/certificates/{shared}"' not in lot and "names lots of other participants" in lot
        withheld = c.get(f"/certificates/{shared}/download")
        assert withheld.status_code == 403 and "credential" not in withheld.headers["content-type"]
    with logged_in(world, "auditor") as c:  # sees everything
        assert json.loads(c.get(f"/certificates/{shared}/download").content)["credential"]["proof"]
    anonymous = world.client.get(f"/certificates/{number}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"


@pytest.mark.parametrize("number", ["no-such-number", "..%2F..%2Fetc"])
def test_unknown_certificate(world: ServerWorld, number: str) -> None:
    with logged_in(world, "secretariat") as c:
        assert c.get(f"/certificates/{number}").status_code == 404
