"""Dependence by control as well as location: "China plus Myanmar" style questions.

The location view counts where ore is mined; the control view credits a country's mine output to the
country whose companies take it for processing, where ``control.json`` gives a source (Myanmar's carbonate
to Chinese separators; Mountain Pass concentrate to Shenghe in 2024; Mt Weld to Lynas). For a group of
countries (default China and Myanmar):

    by location = sum over the group of its mine output / world output
    by control  = sum over every country of (its output x share controlled by a group member) / world,
                  where a country without a control row controls its own output
    not known   = output of countries without a control row, outside the group (never guessed)

Two bases: USGS mine production (t REO, ``mining.json``) and the IEA's magnet rare earths mined (kt).
Separation and magnets use the published stage shares (``stage_shares.json``) the same way: a control
row of that stage credits a country's plants to their owners' country (Lynas' Malaysian plant to
Australia), and what the source leaves unallocated is "not known".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.world.data import WorldData, _Doc
from raretrace.world.metrics import published_shares

#: The pseudo-country for what a published stage share leaves unallocated (its controller never known).
UNALLOCATED = "unallocated"


@dataclass(frozen=True)
class ControlRow:
    stage: str
    country: str
    controller: str
    share: float
    basis: str
    source: str


@dataclass(frozen=True)
class GroupShare:
    basis: str  # "USGS t REO 2024" or "IEA magnet REE 2024"
    group: tuple[str, ...]
    by_location: float
    by_control: float
    not_known: float  # share of output whose controller no source gives
    sources: tuple[str, ...]
    # the bound: by control if every tonne whose controller is not known were the group's (by_control is
    # the other end, none of it); the headline moves between the two, never outside
    by_control_if_unknown_in_group: float


@dataclass(frozen=True)
class Candidate:
    """Who is known to operate in the unallocated rest of a stage, without a share (see control.json)."""

    stage: str
    company: str
    owner_country: str  # ISO code, or "not known"
    plants_in: str
    basis: str
    source: str


def _control_doc(doc: object | None) -> object:
    """``doc`` if given (a caller's own table), else the shipped ``control.json``."""
    if doc is not None:
        return doc
    return read_package_json("data/world/control.json")


def load_control(
    doc: object | None = None,
) -> tuple[tuple[ControlRow, ...], dict[str, float], tuple[str, ...]]:
    """The control rows, the IEA magnet-REE mine output by country (kt) and its sources."""
    d = _Doc("control.json", _control_doc(doc))
    rows = []
    for r in d.rows("control"):
        rows.append(
            ControlRow(
                r.stage("stage"),
                r.country("country"),
                r.country("controller"),
                r.share("share"),
                r.text("basis"),
                r.text("source"),
            )
        )
    magnet = {}
    sources = []
    for r in d.rows("magnet_ree_mining"):
        magnet[r.country("country", other=True)] = r.number("kt")
        sources.append(r.text("source"))
    return tuple(rows), magnet, tuple(dict.fromkeys(sources))


def unallocated_candidates(doc: object | None = None) -> tuple[Candidate, ...]:
    """The named operators in what the stage shares leave unallocated; none has a published share."""
    rows = _Doc("control.json", _control_doc(doc)).object("unallocated")
    return tuple(
        Candidate(
            r.stage("stage"),
            r.text("company"),
            r.text("owner_country"),
            r.text("plants_in"),
            r.text("basis"),
            r.text("source"),
        )
        for r in rows.rows("candidates")
    )


def group_share(
    output: Mapping[str, float],
    rows: Iterable[ControlRow],
    group: tuple[str, ...],
    basis: str,
    sources: tuple[str, ...],
    stage: str = "mining",
) -> GroupShare:
    """The group's share of ``output`` (country -> amount) by location and by control at one stage."""
    total = sum(output.values())
    if total <= 0:
        raise ValidationError("no output to share", field=basis)
    control = {r.country: r for r in rows if r.stage == stage}
    located = sum(v for c, v in output.items() if c in group)
    controlled = unknown = 0.0
    for country, amount in output.items():
        row = control.get(country)
        if row is None:  # no source: the country keeps its own output
            controlled += amount if country in group else 0.0
            unknown += 0.0 if country in group else amount
            continue
        to_controller = row.share if row.controller in group else 0.0
        kept = (1.0 - row.share) if country in group else 0.0
        controlled += amount * (to_controller + kept)
    used = sources + tuple(r.source for r in control.values() if r.country in output)
    return GroupShare(
        basis,
        group,
        located / total,
        controlled / total,
        unknown / total,
        tuple(dict.fromkeys(used)),
        (controlled + unknown) / total,
    )


def china_plus(data: WorldData, group: tuple[str, ...] = ("CN", "MM"), year: int = 2024) -> list[GroupShare]:
    """The group's mining share on both bases (USGS t REO; IEA magnet rare earths)."""
    rows, magnet, iea_sources = load_control()
    usgs = {p.country: p.t_reo for p in data.production if p.year == year}
    usgs_sources = tuple(dict.fromkeys(p.source for p in data.production if p.year == year))
    out = [group_share(usgs, rows, group, f"USGS mine production {year}, t REO", usgs_sources)]
    if year == 2024:
        out.append(group_share(magnet, rows, group, "IEA magnet rare earths mined 2024, kt", iea_sources))
    return out


def stage_control(
    data: WorldData,
    stage: str,
    group: tuple[str, ...] = ("CN", "MM"),
    year: int | None = None,
    doc: object | None = None,
) -> GroupShare:
    """The group's share of a processing stage (published shares) by location and by plant owner
    (``doc``: a control table of the caller's, else the shipped ``control.json``)."""
    rows, _, _ = load_control(doc)
    dist = published_shares(data, stage, year)
    output = {**dist.shares, UNALLOCATED: dist.unallocated}
    return group_share(output, rows, group, f"{stage}, {dist.basis}", dist.sources, stage)
