"""A shipment certificate for people: one printable page, HTML (Jinja2) or PDF (fpdf2, core fonts),
drawn from ``certify.view``; see that module for what is shown and what the QR code carries."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources

import jinja2
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from raretrace.certify.view import OUTCOME_RGB, CertificateView, certificate_view, qr_code, qr_payload

__all__ = ["latin1", "qr_payload", "render_html", "render_pdf"]


# HTML -------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    source = resources.files("raretrace").joinpath("data/templates/certificate.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


def render_html(presentation: Mapping[str, object]) -> str:
    """One printable A4 page (print CSS) for a customs officer, from the revealed certificate."""
    return _template().render(v=certificate_view(presentation))


# PDF --------------------------------------------------------------------------------------------------
_ASCII = str.maketrans(
    {
        "—": "-", "–": "-", "‑": "-", "−": "-", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "→": "->",
        "←": "<-", "…": "...", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*", "·": "*", "\u00a0": " ",
    }
)  # fmt: skip


def latin1(text: str) -> str:
    """Text the PDF core fonts can encode (Latin-1): typographic signs as ASCII, letters outside
    Latin-1 without their accents where that helps (ő -> o), anything else as "?"."""
    out: list[str] = []
    for char in text.translate(_ASCII):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256)
        out.append(base or "?")
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


class _Page:
    """One A4 page drawn at a font scale; ``fits`` says whether it stayed on one page."""

    WIDTH = 186.0

    def __init__(self, view: CertificateView, scale: float, limit: int | None) -> None:
        self.scale, self.limit = scale, limit
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(12, 11, 12)
        pdf.set_auto_page_break(auto=limit is None, margin=10)
        pdf.set_title(latin1(f"{view.title} {view.number}"))
        pdf.set_author(latin1(view.authority))
        pdf.set_creator("raretrace")
        pdf.set_creation_date(_issued(view))
        pdf.add_page()
        self.pdf = pdf

    def font(self, size: float, style: str = "", family: str = "helvetica") -> None:
        self.pdf.set_font(family, style, size * self.scale)

    def line(
        self, text: str, size: float = 7.5, style: str = "", width: float = 0, height: float = 0
    ) -> None:
        self.font(size, style)
        self.pdf.multi_cell(
            width,
            height or size * self.scale * 0.45,
            latin1(text),
            align="L",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def heading(self, text: str) -> None:
        self.pdf.ln(1.2 * self.scale)
        self.font(8.5, "B")
        self.pdf.cell(
            0, 4.2 * self.scale, latin1(text.upper()), border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.pdf.ln(0.6)

    def rows(self, rows: list[list[str]]) -> list[list[str]]:
        """At most ``limit`` rows (the last resort), then one saying how many more there are."""
        if self.limit is None or len(rows) <= self.limit:
            return rows
        more = f"... {len(rows) - self.limit} more: see the certificate file"
        return [*rows[: self.limit], [more] + [""] * (len(rows[0]) - 1)]

    def table(
        self,
        widths: tuple[float, ...],
        head: list[str],
        body: list[list[str]],
        colours: list[tuple[int, int, int] | None] | None = None,
    ) -> None:
        """A table; ``colours[i]`` (if any) colours row i's third cell (a verdict's outcome)."""
        self.font(6.8)
        with self.pdf.table(
            col_widths=widths,
            width=self.WIDTH,
            line_height=3.0 * self.scale,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            borders_layout="HORIZONTAL_LINES",
            first_row_as_headings=True,
            text_align="LEFT",
        ) as table:
            heading = table.row()
            for text in head:
                heading.cell(latin1(text))
            for r, values in enumerate(self.rows(body)):
                row = table.row()
                rgb = colours[r] if colours and r < len(colours) else None
                for c, value in enumerate(values):
                    style = FontFace(emphasis="BOLD", color=rgb) if rgb and c == 2 else None
                    row.cell(latin1(value), style=style)

    def fits(self) -> bool:
        return self.pdf.page == 1


def _issued(view: CertificateView) -> datetime:
    """A fixed creation date (the day of issue), so one certificate always renders to the same bytes."""
    try:
        return datetime.fromisoformat(str(view.issued)[:10]).replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def _header(page: _Page, view: CertificateView) -> None:
    pdf, scale, qr_size = page.pdf, page.scale, 38.0
    png = io.BytesIO()
    qr_code(view.qr.payload).save(png, kind="png", scale=8, border=4)
    png.seek(0)
    pdf.image(png, x=pdf.l_margin + page.WIDTH - qr_size, y=pdf.t_margin, w=qr_size, h=qr_size)
    width = page.WIDTH - qr_size - 4
    page.line(view.title, 12.5, "B", width=width, height=5.6 * scale)
    page.line(f"Certificate No. {view.number}", 10, "B", width=width, height=4.8 * scale)
    for label, value in (
        ("Issuing authority", view.authority),
        ("Date of issue", view.issued),
        ("Date of expiry", view.expires),
        ("Certificate id", view.credential_id),
        ("Issuer key", view.issuer_did),
    ):
        page.line(f"{label}: {value}", 7.5, width=width)
    page.line(view.statement, 6.6, width=width)
    pdf.set_y(max(pdf.get_y(), pdf.t_margin + qr_size) + 0.5)
    page.font(5.6, family="courier")
    pdf.multi_cell(page.WIDTH, 2.4, latin1(f"QR: {view.qr.payload}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _draw(view: CertificateView, scale: float, clip: int, limit: int | None = None) -> _Page:
    """The page; with ``limit`` (the last resort) at most that many rows per table and nothing drawn
    past the bottom of the page."""
    page = _Page(view, scale, limit)
    _header(page, view)

    page.heading("Exporter and importer")
    for party in view.parties:
        text = (
            f"{party.name} - {party.operator}, {party.country} [{party.id}]" if party.shown else party.absent
        )
        page.line(f"{party.role}: {text}", 7.5)

    page.heading("Shipment")
    s = view.shipment
    page.line(
        f"HS code {s.hs_code} | parcels {s.parcels} | mass (kg) {s.mass} | "
        f"value (USD) {s.value} | country of origin: {s.origin} | transfer {s.transfer}",
        7.2,
    )
    page.pdf.ln(0.8)
    page.table(
        (34, 9, 13, 22, 7, 15),
        ["Lot", "Form", "Mass (kg)", "Composition", "Units", "Value (USD)"],
        [[lot.id, lot.form, lot.mass, lot.composition, lot.units, lot.value] for lot in view.lots],
    )

    page.heading("Origin by element and stage (location; tech: where the technology differs)")
    stages = view.stages
    page.table(
        (24, 9, *([max(9.0, 67 / max(1, len(stages)))] * len(stages))),
        ["Lot", "Element", *stages],
        [
            [
                row.lot,
                row.elements,
                *(c.location + (f" (tech: {c.technology})" if c.technology else "") for c in row.cells),
            ]
            for row in view.origin_rows
        ],
    )

    _findings(page, view, clip)
    return page


def _findings(page: _Page, view: CertificateView, clip: int) -> None:
    """The page's second half: verdicts, fingerprints, log evidence and how to verify."""
    page.heading("Compliance verdicts")
    page.table(
        (22, 12, 17, 85),
        ["Regime", "Version", "Outcome", "Explanation"],
        [[v.regime, v.version, v.label, _clip(v.explanation, clip)] for v in view.verdicts],
        [OUTCOME_RGB.get(v.outcome, (0, 0, 0)) for v in view.verdicts],
    )

    page.heading("Chemical fingerprint of the raw materials")
    fingerprints = [[f"{fp.lot} ({fp.form}): {fp.status}"] for fp in view.fingerprints]
    for (text,) in page.rows(fingerprints or [["none listed"]]):
        page.line(text, 6.8)

    page.heading("Log evidence")
    e = view.evidence
    page.line(
        f"Log {e.log}, tree size {e.tree_size}; {e.events} event(s) with inclusion proofs "
        f"({e.kinds}), {e.envelopes}. Checkpoint signatures: {e.signatures}.",
        7,
    )
    page.pdf.ln(1.5)
    page.line(view.hidden_text, 7.5, "B")
    page.line(
        "This page is a reading aid, not the certificate: the signed file is. Verify offline with "
        f"`{view.verify_command}` (add --status-list to check revocation).",
        7,
    )


def render_pdf(presentation: Mapping[str, object]) -> bytes:
    """One A4 page (core fonts only, QR as an image), condensed: long explanations are clipped and the
    type shrinks until everything fits; past that, long tables are cut with a "more" row."""
    view = certificate_view(presentation)
    for scale, clip in ((1.0, 480), (0.85, 320), (0.7, 200)):
        page = _draw(view, scale, clip)
        if page.fits():
            return bytes(page.pdf.output())
        if page.pdf.page > 2:  # type this much smaller would not be readable: cut rows instead
            break
    for limit in (20, 12):
        page = _draw(view, 0.7, 160, limit)
        if page.pdf.get_y() <= page.pdf.h - page.pdf.b_margin:
            return bytes(page.pdf.output())
    return bytes(_draw(view, 0.7, 120, limit=5).pdf.output())
