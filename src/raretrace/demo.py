"""``raretrace demo``: the rare-earth industry's real structure, recorded, checked and certified.

The demo builds the demo world (``raretrace.demoworld``: named deposits and plants with their published
capacities and countries, flows in proportion to the published stage shares, thousands of signed lots
from mines to magnets, EV motors and defense platforms) into a fresh registry, then shows what a user
of each kind would look at: the four planted cases and the check that catches each, China's share of
every stage measured from the recorded lots beside the published figures, the compliance of featured
lots under every shipped regime (today, and for a military end use from 2027-01-01), shipment
certificates verified offline (a tampered copy refused), and the log's audit. Everything printed is
computed from the registry, not stored answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from raretrace.demoworld import WorldFindings, WorldSummary, build_world, findings
from raretrace.errors import ValidationError
from raretrace.ledger.audit import audit
from raretrace.ledger.compliance import check_lots, today
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.render.tables import print_table
from raretrace.rules.verdict import Verdict
from raretrace.store.db import make_engine, resolve_url
from raretrace.store.lots import first_lot_made_by, transfer_events_of

ORIGIN = "demo.raretrace.example/registry"
DEFAULT_DB = "raretrace-demo.db"
#: An all-allied chain the demo features beside the cases: MP Materials' Fort Worth magnets.
ALLIED_MAGNET_MAKER = "US-MP-INDEPENDENCE"
#: Lots the demo world records at scale 1 (seed 0), measured: the progress bar's total is this times the
#: scale, an estimate (lot counts round per stage, so small scales differ by a few per cent).
LOTS_AT_FULL_SCALE = 8686


def expected_lots(scale: float) -> int:
    return max(1, round(LOTS_AT_FULL_SCALE * scale))


@dataclass(frozen=True)
class IssuedCertificate:
    """A shipment certificate the demo issued, where it wrote it, and whether it verified offline."""

    number: str
    transfer: str
    file: str
    verified: bool


@dataclass(frozen=True)
class TamperedCopy:
    """The case (d) certificate or an altered copy of it, verified as a customs officer would."""

    copy: str
    what: str
    verified: bool
    failed_step: int | None  # the first verification step that failed (1-based)
    failure: str | None
    file: str


@dataclass(frozen=True)
class DemoCertificates:
    folder: str
    issued: tuple[IssuedCertificate, ...]
    tampered: tuple[TamperedCopy, ...]


@dataclass(frozen=True)
class DemoSummary:
    """What the demo built and found; ``raretrace demo --json`` prints its ``render.jsonable``."""

    db: str
    origin: str
    tree_size: int
    world: Mapping[str, object]
    findings: Mapping[str, object]
    featured: Mapping[str, str]
    audit_ok: bool
    checkpoint: str
    compliance: tuple[Verdict, ...]
    compliance_military_2027: tuple[Verdict, ...]
    certificates: DemoCertificates


def run_demo(
    db: str,
    console: Console | None,
    *,
    scale: float = 1.0,
    seed: int = 0,
    progress: Callable[[str, int], None] | None = None,
) -> DemoSummary:
    """Build the demo world in ``db`` (a fresh registry) and report what it shows."""
    url = resolve_url(db)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            if path.name != DEFAULT_DB:
                raise ValidationError(
                    f"{path} already exists; the demo builds a fresh registry (pick a new path). To serve "
                    f"the registry in it: raretrace --db {path} serve --dev",
                    field="db",
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        folder = path.with_name(path.stem + "-certificates")
    else:
        folder = Path("raretrace-demo-certificates")
    registry = Registry.init(make_engine(db), ORIGIN)
    world = build_world(registry, seed=seed, scale=scale, progress=progress, folder=folder)
    found = findings(registry, world)
    featured = featured_lots(registry, world, found)
    issued = issue_shipment_certificates(registry, folder, list(featured.values()))
    tampered = _verify_tampered(world, folder)
    result = audit(registry)
    checkpoint = latest_checkpoint(registry)
    later = max(today(), date(2027, 1, 1))
    summary = DemoSummary(
        db=db,
        origin=registry.origin,
        tree_size=registry.tree_size(),
        world=world.to_dict(),
        findings=found.to_dict(),
        featured=featured,
        audit_ok=result.ok,
        checkpoint=checkpoint,
        compliance=tuple(check_lots(registry, list(featured.values()))),
        compliance_military_2027=tuple(
            check_lots(registry, list(featured.values()), as_of=later, end_use="military")
        ),
        certificates=DemoCertificates(str(folder), issued, tampered),
    )
    if console is not None:
        _print(console, registry, world, found, featured, summary)
    return summary


def featured_lots(registry: Registry, world: WorldSummary, found: WorldFindings) -> dict[str, str]:
    """The lots the demo puts in front of the user: one per case, and an all-allied magnet."""
    featured = {
        "F-35 with Baotou-separated magnets (case c)": world.defense_magnet.system,
        "US defense magnets from Chinese oxide (case c)": world.defense_magnet.magnet,
        "Vietnam magnets, Chinese technology (case b)": world.chinese_technology.magnet,
    }
    case_a = next((c for c in found.cases if c.case == "a"), None)
    if case_a is not None and len(case_a.lots) > 1:
        featured["Japanese magnets from falsely declared ore (case a)"] = case_a.lots[-1]
    with registry.engine.connect() as conn:
        allied = first_lot_made_by(conn, ALLIED_MAGNET_MAKER, "magnet")
    if allied is not None:
        featured["US magnets, Mountain Pass to Fort Worth"] = allied
    return {label: lot for label, lot in featured.items() if lot}


def issue_shipment_certificates(
    registry: Registry, folder: Path, lots: list[str]
) -> tuple[IssuedCertificate, ...]:
    """A certificate for the shipment of each featured lot (and of the inputs it was made from, when
    the lot itself never shipped), written with the trusted-keys file and the status list a customs
    officer needs, and each verified offline as the officer would."""
    from raretrace.certify.render import render_html, render_pdf
    from raretrace.certify.verify import TrustedKeys, verify_certificate
    from raretrace.ledger.certificates import issue, status_list, trusted_keys

    folder.mkdir(parents=True, exist_ok=True)
    transfers = _shipments(registry, lots)
    keys = trusted_keys(registry)
    _write_json(folder / "trusted-keys.json", keys)
    trusted = TrustedKeys.from_dict(keys)
    issued = []
    for transfer in transfers:
        certificate = issue(registry, transfer=transfer)
        number, presentation = certificate.number, certificate.to_dict()
        path = folder / f"{number}.json"
        _write_json(path, presentation)
        path.with_suffix(".html").write_text(render_html(presentation), encoding="utf-8")
        path.with_suffix(".pdf").write_bytes(render_pdf(presentation))
        report = verify_certificate(presentation, trusted)
        issued.append(IssuedCertificate(number, transfer, str(path), report.ok))
    _write_json(folder / "status-list.json", status_list(registry))
    return tuple(issued)


def _shipments(registry: Registry, lots: list[str]) -> list[str]:
    """The transfer events that shipped ``lots``, in log order (first shipment of each lot)."""
    with registry.engine.connect() as conn:
        rows = transfer_events_of(conn, lots)
    first: dict[str, str] = {}
    for event_id, lot_id in rows:
        first.setdefault(lot_id, event_id)
    return list(dict.fromkeys(first.values()))  # log order: rows and dicts keep it


def _verify_tampered(world: WorldSummary, folder: Path) -> tuple[TamperedCopy, ...]:
    """The case (d) certificate and its altered copies, verified as a customs officer would."""
    from raretrace.certify.verify import TrustedKeys, verify_certificate

    trusted = TrustedKeys.from_dict(world.certificate.trusted_keys)
    out = []
    copies = {"genuine": world.certificate.certificate, **world.certificate.tampered}
    for name, presentation in copies.items():
        report = verify_certificate(presentation, trusted)
        failed = next((i for i, s in enumerate(report.steps, 1) if not s.ok), None)
        file = world.certificate.files.get(name if name != "genuine" else "certificate")
        out.append(
            TamperedCopy(
                copy=name,
                what=world.certificate.what.get(name, "as issued"),
                verified=report.ok,
                failed_step=failed,
                failure=report.steps[failed - 1].detail if failed else None,
                file=str(file) if file else str(folder / "certificate.json"),
            )
        )
    return tuple(out)


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


# --- printing -----------------------------------------------------------------------------------------


def _print(
    console: Console,
    registry: Registry,
    world: WorldSummary,
    found: WorldFindings,
    featured: dict[str, str],
    summary: DemoSummary,
) -> None:
    from raretrace.render.verdicts import print_verdicts

    console.print(
        f"[bold]raretrace demo[/bold]: the demo world in registry {escape(registry.origin)} "
        f"({escape(str(registry.engine.url))})",
        soft_wrap=True,
    )
    console.print(
        f"  {world.facilities} plants, {world.lots:,} lots in {world.events:,} signed events, built in "
        f"{world.seconds['total']:.1f} s (signing {world.seconds['sign']:.1f} s, appending "
        f"{world.seconds['append']:.1f} s)",
        soft_wrap=True,
        highlight=False,
    )
    _print_findings(console, found)
    console.print()
    console.print("featured lots:")
    for label, lot in featured.items():
        console.print(f"  {label}: {lot}", soft_wrap=True, highlight=False)
    print_verdicts(console, check_lots(registry, list(featured.values()), as_of=today()))
    later = max(today(), date(2027, 1, 1))
    verdicts = check_lots(registry, list(featured.values()), as_of=later, end_use="military")
    print_verdicts(console, verdicts, title=f"for a military end use, on {later}", explain=False)
    console.print()
    _print_certificates(console, summary.certificates)
    console.print(
        f"{registry.tree_size():,} signed events in the log; audit "
        + ("[green]passed[/green]" if summary.audit_ok else "[red]FAILED[/red]")
    )
    console.print("latest checkpoint (C2SP signed note):")
    console.print(summary.checkpoint, highlight=False, markup=False, end="", soft_wrap=True)
    first = next(iter(featured.values()))
    console.print(
        f"next: raretrace --db {registry.engine.url.database} trace {first} --up --max-paths 5",
        soft_wrap=True,
        highlight=False,
    )


def _print_findings(console: Console, found: WorldFindings) -> None:
    """China's share by stage beside the published figures, and the four cases with the check that
    catches each."""
    print_table(
        console,
        ["stage", "measured", "published", "within"],
        [
            [
                check.stage,
                f"{check.measured:.1%}",
                f"≈{check.published:.0%}",
                f"±{check.tolerance_pp:g} pp: " + ("yes" if check.within else "NO"),
            ]
            for check in found.shares
        ],
        title="China's share by stage, measured from the recorded lots",
    )
    print_table(
        console,
        ["case", "caught", "check", "outcome"],
        [
            [
                f"({case.case}) {escape(case.title)}",
                "[green]yes[/green]" if case.caught else "[red]NO[/red]",
                escape(case.check),
                escape(case.outcome),
            ]
            for case in found.cases
        ],
        title="What a user must catch — and the check that catches it",
    )
    for case in found.cases:
        console.print(f"  ({case.case}) {escape(case.explanation)}", soft_wrap=True, highlight=False)


def _print_certificates(console: Console, certificates: DemoCertificates) -> None:
    folder = certificates.folder
    console.print(
        f"shipment certificates (W3C VC 2.0, eddsa-jcs-2022) in {folder}/:", soft_wrap=True, highlight=False
    )
    for item in certificates.issued:
        state = "[green]verified offline[/green]" if item.verified else "[red]FAILED verification[/red]"
        console.print(f"  {item.number}  shipment {item.transfer}  {state}", soft_wrap=True, highlight=False)
    for copy in certificates.tampered:
        if copy.verified:
            state = "[green]verified offline[/green]"
        else:
            state = f"[red]refused at step {copy.failed_step}[/red]: {escape(copy.failure or '')}"
        console.print(
            f"  case (d) {copy.copy} ({escape(copy.what)}): {state}", soft_wrap=True, highlight=False
        )
    first = certificates.issued[0].file if certificates.issued else "CERT.json"
    console.print(
        f"verify one: raretrace verify {first} --trusted-keys {folder}/trusted-keys.json "
        f"--status-list {folder}/status-list.json",
        soft_wrap=True,
        highlight=False,
    )
