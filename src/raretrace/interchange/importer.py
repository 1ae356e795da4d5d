"""Importing a file: read it row by row, sign what is unsigned, record it all or nothing.

1. Rows are read one at a time and converted to events; every problem with a cell is collected
   (up to a cap) instead of stopping at the first, each naming file, row, column and reason.
2. The facilities the events name are looked up in one query, so every unknown facility is reported
   (and, for a facility list, every facility already registered).
3. Unsigned events are signed: facility registrations with the registry's key (the secretariat's
   act), the rest with the submitting participant's key (``--key``). Already signed rows keep their
   signature.
4. If anything was found, nothing is written. Otherwise the whole file goes to ``Registry.append``
   as ONE batch: every invariant (custody, double spend, mass balance, duplicates, signatures) is
   judged in one transaction, and a refusal there is reported at the row and column the offending
   field came from. ``dry_run`` runs the same judgement and writes nothing.

Memory: rows are not kept. What grows with the file is the set of ids seen (to report duplicates
with the row of their first use) and the signed envelopes waiting for the single atomic append.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from raretrace.crypto.keys import Signer
from raretrace.custody.events import sign_event
from raretrace.errors import RaretraceError, ValidationError
from raretrace.interchange.columns import KINDS, parse_header
from raretrace.interchange.epcis import epcis_items
from raretrace.interchange.event_rows import event_items
from raretrace.interchange.facility_rows import facility_items
from raretrace.interchange.items import Item
from raretrace.interchange.problems import DEFAULT_MAX_PROBLEMS, ProblemLog
from raretrace.interchange.tabular import Sheet, detect_format, open_sheet
from raretrace.ledger.registry import Registry

#: progress(phase, done, total): phase "reading" counts bytes or rows, "recording" counts events
Progress = Callable[[str, int, int | None], None]
_ENVELOPE_INDEX = re.compile(r"^envelope (\d+)")


@dataclass
class ImportResult:
    file: str
    format: str
    kind: str
    events: int
    dry_run: bool
    first_index: int | None = None
    tree_size: int | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": True,
            "file": self.file,
            "format": self.format,
            "kind": self.kind,
            "events": self.events,
            "dry_run": self.dry_run,
            "first_index": self.first_index,
            "tree_size": self.tree_size,
            "skipped": self.skipped,
        }


def detect_kind(sheet: Sheet, given: str | None) -> str:
    """facilities or events: as given, else whichever template the header matches."""
    if given is not None:
        if given not in KINDS:
            raise ValidationError(f"{given!r} is not one of {', '.join(KINDS)}", field="kind")
        return given
    fits = [
        kind
        for kind in KINDS
        if not any(r == "required column is missing" for _, r in parse_header(kind, sheet.header)[1])
    ]
    if len(fits) != 1:
        raise ValidationError(
            f"{sheet.name}: the header matches neither template completely; give --kind "
            f"({', '.join(KINDS)}) to see what is missing",
            field="kind",
        )
    return fits[0]


def convert(
    path: Path,
    *,
    fmt: str | None = None,
    kind: str | None = None,
    log: ProblemLog,
    skipped: list[str] | None = None,
    progress: Progress | None = None,
) -> Iterator[Item]:
    """The events a file holds, one at a time; problems go to ``log``. Nothing here touches a registry."""
    chosen = detect_format(path, fmt)
    if chosen == "epcis":
        if kind not in (None, "events"):
            raise ValidationError("an EPCIS document holds events, not facilities", field="kind")
        yield from epcis_items(path, log, skipped if skipped is not None else [])
        return
    with open_sheet(path, chosen, kind) as sheet:
        log.file = sheet.name
        which = detect_kind(sheet, kind)
        items = facility_items(sheet, log) if which == "facilities" else event_items(sheet, log)
        for count, item in enumerate(items, start=1):
            if progress is not None and count % 256 == 0:
                progress("reading", *sheet.position())
            yield item
            if log.full:
                return
        if progress is not None:
            done, total = sheet.position()
            progress("reading", total or done, total or done)


def import_file(
    registry: Registry,
    path: Path,
    *,
    fmt: str | None = None,
    kind: str | None = None,
    signer: Signer | None = None,
    dry_run: bool = False,
    max_errors: int = DEFAULT_MAX_PROBLEMS,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate and record one file, all or nothing (see the module's docstring for the steps)."""
    chosen = detect_format(path, fmt)
    log = ProblemLog(path.name, max_errors, "event" if chosen == "epcis" else "row")
    skipped: list[str] = []
    found = _Signed(registry, signer)
    for item in convert(path, fmt=chosen, kind=kind, log=log, skipped=skipped, progress=progress):
        found.add(item)
    if found.unsigned_without_key:
        log.add(
            None, None, "the file has unsigned rows: give the submitting facility's private key with --key"
        )
    _check_facilities(registry, found.named, found.registered, log)
    log.raise_if_any()
    if not found.envelopes:
        raise ValidationError(f"{path.name} holds no events to record", field="file")
    try:
        result = registry.append(
            found.envelopes, progress=_counter(progress, len(found.envelopes)), dry_run=dry_run
        )
    except RaretraceError as e:
        _refused(e, found.items, log)
        log.raise_if_any()
        raise
    return ImportResult(
        file=str(path),
        format=chosen,
        kind="facilities" if found.registered else "events",
        events=result.count,
        dry_run=dry_run,
        first_index=None if dry_run else result.first_index,
        tree_size=result.tree_size,
        skipped=skipped,
    )


@dataclass
class _Signed:
    """The file's items as signed envelopes, with the facilities its rows name and register (to check
    them before anything is recorded). Secretariat items are signed with the registry's key, the others
    with the submitting facility's (``unsigned_without_key`` when it was not given)."""

    registry: Registry  # its key is read only when a secretariat item needs it (it may be kept elsewhere)
    facility: Signer | None
    envelopes: list[bytes] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)  # to name the row of a refusal
    named: dict[str, tuple[int, str]] = field(default_factory=dict)
    registered: dict[str, tuple[int, str]] = field(default_factory=dict)
    unsigned_without_key: bool = False

    def add(self, item: Item) -> None:
        for facility_id, row, column in item.facilities:
            self.named.setdefault(facility_id, (row, column))
        if item.registers is not None:
            self.registered[item.registers[0]] = item.registers[1:]
        if item.envelope is None and item.event is not None:
            key = self.registry.signer if item.secretariat else self.facility
            if key is None:
                self.unsigned_without_key = True
                return
            item.envelope = sign_event(item.event, [key])
            item.event = None  # the unsigned event is dropped once signed
        if item.envelope is not None:
            self.envelopes.append(item.envelope)
            self.items.append(item)


def _counter(progress: Progress | None, total: int) -> Callable[[int], None]:
    """The registry's progress callback: reports "recording" every 256 events and at the end."""
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None and (done[0] % 256 == 0 or done[0] == total):
            progress("recording", done[0], total)

    return advance


def _check_facilities(
    registry: Registry,
    named: dict[str, tuple[int, str]],
    registered: dict[str, tuple[int, str]],
    log: ProblemLog,
) -> None:
    """Every unknown facility an event names, and every facility a list would register twice."""
    wanted = sorted(set(named) | set(registered))
    if not wanted:
        return
    with registry.engine.connect() as conn:
        known = registry.store.facilities(conn, wanted)
    for facility_id, (row, column) in named.items():
        if facility_id not in known and facility_id not in registered:
            log.add(row, column, f"facility {facility_id!r} is not registered", exit_code=5)
    for facility_id, (row, column) in registered.items():
        if facility_id in known:
            log.add(row, column, f"facility {facility_id} is already registered", exit_code=4)


def _refused(error: RaretraceError, items: list[Item], log: ProblemLog) -> None:
    """Report the registry's refusal of one envelope at the row and column its field came from."""
    match = _ENVELOPE_INDEX.match(error.context or "")
    if match is None or int(match.group(1)) >= len(items):
        return
    item = items[int(match.group(1))]
    row, column = item.locate(error.field)
    log.add(row, column, f"event {item.event_id}: {error.message}", exit_code=error.exit_code)
