"""The certificate for people: HTML and PDF pages rendered from the revealed example certificate, values
escaped, withheld fields shown as hidden, and the QR codes (PDF image and HTML inline SVG) decoding back
to exactly ``qr_payload``."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp
from PIL import Image, ImageDraw

from raretrace.certify.credential import concealable
from raretrace.certify.disclosure import conceal, make_disclosure, parse_disclosure, reveal
from raretrace.certify.render import latin1, qr_payload, render_html, render_pdf
from raretrace.crypto.canonical import canonical_bytes
from raretrace.errors import ValidationError

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "certificate.json"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text("utf-8"))


@pytest.fixture(scope="module")
def shown(example: dict[str, Any]) -> dict[str, Any]:
    """The example certificate with every field revealed (what the issuer signed, minus the proof)."""
    body = {k: v for k, v in example["credential"].items() if k != "proof"}
    document, hidden = reveal(body, example["disclosures"])
    assert hidden == 0
    return document


def _present(document: dict[str, Any]) -> dict[str, Any]:
    """A presentation of an (unsigned) credential: concealed as the issuer does, every disclosure given."""
    concealed, disclosures = conceal(
        document, lambda path: path[0] == "credentialSubject" and concealable(path[1:])
    )
    return {"credential": concealed, "disclosures": disclosures}


def _decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


# QR payload ---------------------------------------------------------------------------------------------
def test_qr_payload_names_the_certificate_and_the_digest_of_the_signed_credential(
    example: dict[str, Any],
) -> None:
    credential = example["credential"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical_bytes(credential)).digest()).rstrip(b"=")
    expected = (
        "https://demo.raretrace.example/registry/certificates/"
        + quote(credential["id"], safe="")
        + "#sha256="
        + digest.decode()
    )
    assert qr_payload(example) == expected
    assert "=" not in expected.rsplit("#sha256=", 1)[1]
    # Whatever the holder hides, the payload is the same: it names the signed credential.
    assert qr_payload({"credential": credential, "disclosures": []}) == expected
    assert qr_payload(credential) == expected  # a bare credential is a presentation without disclosures


def test_qr_payload_falls_back_to_the_issuer_name(shown: dict[str, Any]) -> None:
    document = copy.deepcopy(shown)
    del document["credentialSubject"]["logEvidence"]
    document["issuer"]["name"] = "other.example/log"
    assert qr_payload(_present(document)).startswith("https://other.example/log/certificates/urn%3A")


# HTML -------------------------------------------------------------------------------------------------
def test_html_shows_the_kimberley_fields_lots_and_verdicts(
    example: dict[str, Any], shown: dict[str, Any]
) -> None:
    html = render_html(example)
    subject = shown["credentialSubject"]
    assert subject["certificateNumber"] in html
    assert subject["exporter"]["name"] in html
    assert subject["importer"]["name"] in html
    assert subject["issuingAuthority"]["name"] in html
    assert subject["dateOfIssue"] in html and subject["dateOfExpiry"] in html
    assert subject["shipment"]["hsCode"] in html
    assert "10,596.3" in html  # the mass
    for lot in subject["shipment"]["lots"]:
        assert lot["id"] in html
    for verdict in subject["compliance"]:
        assert verdict["regime"] in html
        assert f'data-outcome="{verdict["outcome"]}"' in html
    assert "CN 100%" in html  # origin shares by stage
    assert "Nd 74.9%" in html  # composition
    assert "tree size 23" in html
    assert "Every field of this certificate is shown" in html
    assert "raretrace verify CERT --trusted-keys FILE" in html
    assert html.count("<svg") == 1
    assert qr_payload(example) in html


def test_html_escapes_values_from_the_certificate(shown: dict[str, Any]) -> None:
    document = copy.deepcopy(shown)
    subject = document["credentialSubject"]
    subject["exporter"]["name"] = SCRIPT  # a disclosed (concealable) value
    subject["compliance"][0]["explanation"] = f'"><img src=x onerror=alert(1)>{SCRIPT}'
    subject["shipment"]["lots"][0]["id"] = f"lot{SCRIPT}"
    presentation = _present(document)
    assert any(parse_disclosure(d) == ("exporter", subject["exporter"]) for d in presentation["disclosures"])
    html = render_html(presentation)
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "lot&lt;script&gt;" in html


def test_html_says_what_the_holder_hides(example: dict[str, Any]) -> None:
    nothing = render_html({"credential": example["credential"], "disclosures": []})
    assert "Baotou" not in nothing
    assert "10,596.3" not in nothing
    assert "8 field(s) of this certificate are hidden by the holder" in nothing
    # exporter, importer, shipment mass, lot mass, event envelopes, summary
    assert nothing.count("hidden by the holder") == 6
    assert "4 hidden by the holder" in nothing  # the event envelopes
    # The masses are always stated, so the one hidden digest on each is the mass, not a value.
    assert "not declared for every lot" in nothing and "hidden by the holder or" not in nothing

    kept = [d for d in example["disclosures"] if parse_disclosure(d)[0] != "exporter"]
    html = render_html({"credential": example["credential"], "disclosures": kept})
    assert "1 field(s) of this certificate are hidden by the holder" in html
    assert "Baotou" not in html
    assert "Sintered NdFeB magnet plant" in html  # the importer is still shown
    assert re.search(r"<h3>Exporter</h3>\s*<p class=\"hidden\">hidden by the holder</p>", html)


def test_hidden_or_never_stated_when_the_digests_cannot_tell(shown: dict[str, Any]) -> None:
    document = copy.deepcopy(shown)
    del document["credentialSubject"]["importer"]  # never stated
    presentation = _present(document)
    kept = [d for d in presentation["disclosures"] if parse_disclosure(d)[0] != "exporter"]
    html = render_html({**presentation, "disclosures": kept})
    assert html.count("hidden by the holder or not stated") == 2  # one digest, two absent parties
    everything = render_html(presentation)
    assert "<h3>Importer</h3>" in everything and "not stated" in everything
    assert "hidden by the holder" not in everything


def test_mixed_origin_and_declared_values(shown: dict[str, Any]) -> None:
    document = copy.deepcopy(shown)
    shipment = document["credentialSubject"]["shipment"]
    shipment["countryOfOrigin"] = None
    shipment["valueUsd"] = 1234567.5
    lot = shipment["lots"][0]
    lot["declaredValueUsd"] = 1234567.5
    lot["origin"]["Nd"]["location"]["mining"] = {"CN": 0.7, "MM": 0.3}
    lot["origin"]["Nd"]["technology"]["separation"] = {"JP": 1.0}
    html = render_html(_present(document))
    assert "mixed — see origin by stage" in html
    assert "1,234,567.50" in html
    assert "CN 70%, MM 30%" in html
    assert "tech: JP 100%" in html
    assert ">Nd<" in html and ">Pr<" in html  # different origins: one row each


def test_forged_disclosure_is_refused(example: dict[str, Any]) -> None:
    forged = [*example["disclosures"], make_disclosure("exporter", {"name": "Someone else"})]
    with pytest.raises(ValidationError, match="match no digest"):
        render_html({"credential": example["credential"], "disclosures": forged})


def _svg_matrix(svg: str) -> list[list[bool]]:
    """The dark modules segno's inline SVG path draws (M/m moves, h runs on half-module rows)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1)) // int(
        re.search(r"scale\((\d+)\)", svg).group(1)
    )
    path = re.search(r' d="([^"]+)"', svg).group(1)
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for col in range(int(x), int(x + float(a))):
                grid[int(y)][col] = True
            x += float(a)
    return grid


def test_html_inline_svg_is_the_qr_code_of_the_payload(example: dict[str, Any]) -> None:
    html = render_html(example)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    grid = _svg_matrix(svg)
    payload = qr_payload(example)
    border = 4
    expected = [[bool(v) for v in row] for row in segno.make(payload, error="m", micro=False).matrix]
    assert [row[border:-border] for row in grid[border:-border]] == expected
    # And the drawn modules scan back to the payload.
    px = 4
    image = Image.new("L", (len(grid) * px, len(grid) * px), 255)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(grid):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle((c * px, r * px, c * px + px - 1, r * px + px - 1), fill=0)
    assert _decode(image) == [payload]


# PDF --------------------------------------------------------------------------------------------------
def test_pdf_is_one_page_whose_qr_code_scans_to_the_payload(example: dict[str, Any]) -> None:
    data = render_pdf(example)
    assert data.startswith(b"%PDF-")
    assert render_pdf(example) == data  # deterministic
    pdf = pdfium.PdfDocument(data)
    try:
        assert len(pdf) == 1
        page = pdf[0]
        assert round(page.get_width() / 72 * 25.4) == 210 and round(page.get_height() / 72 * 25.4) == 297
        text = page.get_textpage().get_text_range()
        image = page.render(scale=150 / 72).to_pil()
    finally:
        pdf.close()
    assert "CN-2026-000001" in text
    assert "Baotou separation and metal plant" in text
    assert "urn:raretrace:lot:bo-metal-2026-0001" in text
    assert "eu-crma-2030" in text and "FAIL" in text
    assert "mixed" not in text and "China (CN)" in text
    assert _decode(image) == [qr_payload(example)]


def _lots(shown: dict[str, Any], count: int) -> dict[str, Any]:
    """The example with ``count`` lots whose Nd came from two countries in different shares."""
    document = copy.deepcopy(shown)
    shipment = document["credentialSubject"]["shipment"]
    lot = shipment["lots"][0]
    shipment["lots"] = [{**copy.deepcopy(lot), "id": f"{lot['id']}-{i}"} for i in range(count)]
    for i, item in enumerate(shipment["lots"]):
        item["origin"]["Nd"]["location"]["mining"] = {"CN": 0.99 - i / 100, "AU": 0.01 + i / 100}
    return document


def _pdf_text(data: bytes) -> tuple[int, str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf), pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()


def test_pdf_fits_five_lots_whole(shown: dict[str, Any]) -> None:
    pages, text = _pdf_text(render_pdf(_present(_lots(shown, 5))))
    assert pages == 1
    assert "bo-metal-2026-0001-4" in text and "CN 95%, AU 5%" in text
    assert "more: see the certificate file" not in text


def test_pdf_cuts_long_tables_and_characters_core_fonts_lack(shown: dict[str, Any]) -> None:
    document = _lots(shown, 30)
    document["credentialSubject"]["exporter"]["name"] = "Ősz — plant ≥ 5 “quoted” 稀土"
    pages, text = _pdf_text(render_pdf(_present(document)))
    assert pages == 1
    assert "Osz - plant >= 5" in text
    assert "more: see the certificate file" in text


def test_latin1_replaces_what_core_fonts_cannot_encode() -> None:
    assert latin1("mixed — see ≥ 65 % … “x” → y") == 'mixed - see >= 65 % ... "x" -> y'
    assert latin1("Ő é 稀") == "O é ?"
    latin1("any text \u2028 \U0001f600").encode("latin-1")
