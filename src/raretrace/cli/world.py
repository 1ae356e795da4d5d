"""Security-analytics commands: scenario run/list, forecast, dependence, economics, report.

Each command calls ``raretrace.world`` and renders; the only logic here is reading the files the user
names (a bad scenario file raises an error naming the file and the field) and writing outputs, which are
written only after everything has been computed."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from raretrace.cli.common import JsonFlag, emit_json, err_console, out_console
from raretrace.errors import NotFoundError, RaretraceError, ValidationError
from raretrace.interchange.writers import inert
from raretrace.io import package_json_folder, read_json_file
from raretrace.jsontypes import JSONValue
from raretrace.render.tables import print_table

if TYPE_CHECKING:  # the models load lazily: a command imports them when it runs
    from raretrace.world.data import WorldData
    from raretrace.world.economics import Economics
    from raretrace.world.independence import Coverage, Plan
    from raretrace.world.metrics import StageDistribution
    from raretrace.world.report import DependenceRow
    from raretrace.world.scenario import Scenario

scenario_app = typer.Typer(help="Export-ban scenarios: run one, list the shipped ones.", no_args_is_help=True)

PathsOption = Annotated[int, typer.Option("--paths", help="Monte Carlo paths per demand line", min=1)]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same result)")]
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="Your own forecasts.json (default: the shipped one)")
]
CsvDir = Annotated[Path | None, typer.Option("--csv", help="Also write each table as CSV into this folder")]
JsonDir = Annotated[Path | None, typer.Option("--json", help="Write each table as JSON into this folder")]
MembersOption = Annotated[
    int | None,
    typer.Option("--members", help="Consortium members sharing the floor (default: the consortium regime's)"),
]


# Reading inputs -----------------------------------------------------------------------------------------
def _shipped_scenarios() -> dict[str, dict[str, JSONValue]]:
    return package_json_folder("data/scenarios")


def _read_json(path: Path) -> JSONValue:
    return read_json_file(path, "file")


def load_scenario(name_or_path: str) -> tuple[Scenario, object]:
    """A scenario from a file, or a shipped one by name; errors name the file and the field."""
    from raretrace.world.scenario import Scenario

    path = Path(name_or_path)
    shipped = _shipped_scenarios()
    if path.exists():
        where, raw = str(path), _read_json(path)
    elif name_or_path in shipped:
        where = f"shipped scenario {name_or_path}"
        raw = shipped[name_or_path]
    else:
        known = ", ".join(shipped)
        raise NotFoundError(
            f"no file {name_or_path} and no shipped scenario of that name (shipped: {known})", field="FILE"
        )
    try:
        return Scenario.from_dict(raw), raw
    except RaretraceError as e:
        raise e.within(where) from e


def _members(members: int | None) -> int:
    if members is not None:
        if members < 1:
            raise ValidationError("must be at least 1", field="--members")
        return members
    from raretrace.ledger.members import consortium_member_count

    return consortium_member_count()


def _plan(model: Path | None) -> Plan:
    from raretrace.world.independence import Plan

    if model is None:
        return Plan.load()
    try:
        return Plan.from_dict(_read_json(model), name=model.name)
    except RaretraceError as e:
        raise e.within(str(model)) from e


@contextmanager
def _progress(description: str) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields ``update(label, done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"{description}: {escape(label)}", completed=done, total=total)

        yield update


# Writing outputs ----------------------------------------------------------------------------------------
def _cell(value: object) -> object:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return inert(value) if isinstance(value, str) else value  # no formula in a spreadsheet (OWASP)


def write_tables(
    tables: Mapping[str, Sequence[Mapping[str, object]]], csv_dir: Path | None, json_dir: Path | None
) -> list[Path]:
    """Each table as NAME.csv and/or NAME.json; every file written via a temporary name and renamed."""
    written = []
    for folder, kind in ((csv_dir, "csv"), (json_dir, "json")):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValidationError(f"cannot create {folder}: {e.strerror}", field=f"--{kind}") from e
        for name, rows in tables.items():
            path = folder / f"{name}.{kind}"
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                if kind == "json":
                    json.dump(rows, fh, indent=1)
                    fh.write("\n")
                else:
                    columns = list(dict.fromkeys(k for row in rows for k in row))
                    writer = csv.DictWriter(fh, fieldnames=columns)
                    writer.writeheader()
                    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
            tmp.replace(path)
            written.append(path)
    return written


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    print_table(out_console, columns, [[escape(x) for x in r] for r in rows], title=title)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def _usd(low: float, high: float) -> str:
    return f"${low:,.0f}" if abs(high - low) < 0.5 else f"${low:,.0f}–{high:,.0f}"


# Commands -----------------------------------------------------------------------------------------------
@scenario_app.command("run")
def scenario_run(
    file: Annotated[str, typer.Argument(help="Scenario JSON file, or the name of a shipped scenario")],
    as_json: JsonFlag = False,
    csv_dir: CsvDir = None,
    paths: Annotated[
        int, typer.Option("--paths", help="Monte Carlo paths of a priced scenario's market", min=1)
    ] = 1_000,
    seed: SeedOption = 0,
) -> None:
    """Run an export-ban scenario: unmet demand per segment, element and month (LP, HiGHS); with a
    "market" block also prices, unmet demand and dependence per month with Monte Carlo bands.

    Example: raretrace scenario run cn-heavy-ree-ban-us --paths 1000 --csv out/
    """
    from raretrace.cli.world_markets import market_tables, print_markets
    from raretrace.world.report import scenario_tables
    from raretrace.world.scenario import run
    from raretrace.world.scenario_market import run_markets

    scenario, _raw = load_scenario(file)
    with _progress(f"scenario {scenario.name}") as update:
        result = run(scenario, progress=update)
        update("market", 0, 1)
        try:
            markets = run_markets(scenario, paths=paths, seed=seed)
        except RaretraceError as e:
            raise e.within(file) from e
    tables = scenario_tables(scenario, result)
    write_tables({**tables, **market_tables(scenario.name, markets)}, csv_dir, None)
    if as_json:
        emit_json(
            {
                "scenario": scenario.to_dict(),
                "unmet_t": result.unmet(),
                "stock_used": dict(result.stock_used),
                "rows": next(v for k, v in tables.items() if k.endswith("_unmet")),
                "flows": next(v for k, v in tables.items() if k.endswith("_flows")),
                "market": [o.to_dict() for o in markets],
            }
        )
        return
    segments = sorted({(a.segment, a.element) for a in result.rows})
    rows = []
    for segment, element in segments:
        these = [a for a in result.rows if a.segment == segment and a.element == element]
        short = [a for a in these if a.unmet_t > 0]
        rows.append(
            [
                segment,
                element,
                f"{sum(a.demand_t for a in these):,.1f}",
                f"{sum(a.unmet_t for a in these):,.1f}",
                f"{short[0].month}..{short[-1].month}" if short else "—",
            ]
        )
    _print_table(
        f"{scenario.name}: {scenario.horizon_start}..{scenario.horizon_end}",
        ["segment", "element", "demand", "unmet", "short in"],
        rows,
    )
    out_console.print(
        f"unmet in total {result.unmet():,.1f}; stockpile drawn "
        + ", ".join(f"{k} {v:,.1f}" for k, v in result.stock_used.items()),
        highlight=False,
    )
    if markets:
        print_markets(markets)


@scenario_app.command("list")
def scenario_list(as_json: JsonFlag = False) -> None:
    """List the shipped example scenarios (run one by name with `scenario run NAME`).

    Example: raretrace scenario list
    """
    items: list[JSONValue] = []
    rows: list[list[str]] = []
    for name, raw in _shipped_scenarios().items():
        description = str(raw.get("description", ""))
        items.append({"name": name, "description": description, "sources": raw.get("sources", [])})
        rows.append([name, description])
    if as_json:
        emit_json({"scenarios": items})
        return
    _print_table("shipped scenarios", ["name", "description"], rows)


def forecast(
    paths: PathsOption = 10_000,
    seed: SeedOption = 0,
    model: ModelOption = None,
    as_json: JsonFlag = False,
    basis: Annotated[
        str,
        typer.Option(
            "--basis",
            help="production (reported output, ramp, utilisation, offtake to the US) or nameplate "
            "(capacity counted as output, all of it American: the old optimistic bound)",
        ),
    ] = "production",
    production: Annotated[
        Path | None, typer.Option("--production", help="Your own production.json (default: the shipped one)")
    ] = None,
    show_tornado: Annotated[
        bool, typer.Option("--tornado", help="Also vary each ramp-up, offtake and utilisation assumption")
    ] = False,
) -> None:
    """When allied supply covers US defense demand and all US demand, for NdPr, Dy, Tb and NdFeB magnets
    (Monte Carlo over project delays, ramp-ups and cancellations), beside the published estimates.

    Example: raretrace forecast --paths 10000 --seed 1 --tornado
    """
    from raretrace.cli.world_markets import print_tornados, production_data
    from raretrace.world.data import WorldData
    from raretrace.world.independence import run_plan
    from raretrace.world.report_markets import TORNADO_LINES
    from raretrace.world.tornado import tornado

    if basis not in ("production", "nameplate"):
        raise ValidationError("must be production or nameplate", field="--basis")
    plan = _plan(model)
    data = WorldData.load()
    prod = production_data(production) if basis == "production" or show_tornado else None
    with _progress("forecast") as update:
        coverage = run_plan(
            plan,
            data,
            paths=paths,
            seed=seed,
            progress=update,
            production=prod if basis == "production" else None,
        )
        tornados = (
            [tornado(plan, data, prod, c, s, paths=min(paths, 2_000), seed=seed) for c, s in TORNADO_LINES]
            if show_tornado and prod is not None
            else []
        )
    if as_json:
        emit_json(
            {
                "start": plan.start,
                "months": plan.months,
                "paths": paths,
                "seed": seed,
                "basis": basis,
                "lines": [c.to_dict() for c in coverage],
                **(
                    {"tornado": [{**asdict(t), "bars": [asdict(b) for b in t.bars]} for t in tornados]}
                    if tornados
                    else {}
                ),
            }
        )
        return
    _print_coverage(
        coverage, f"time to independence from {plan.start}, {paths:,} paths, seed {seed}, basis: {basis}"
    )
    print_tornados(tornados)


def _print_coverage(coverage: list[Coverage], title: str) -> None:
    rows = [
        [
            c.commodity,
            c.segment,
            f"{c.demand_t_per_year:,.1f} {c.unit}/yr" + (" (assumption)" if c.assumption else ""),
            _pct(c.result.p_covered),
            " / ".join(m or "never" for m in c.months()),
            "; ".join(f"{e.label}: {_pct(e.p_covered_by_end)}" for e in c.comparisons),
        ]
        for c in coverage
    ]
    _print_table(
        title,
        [
            "commodity",
            "US demand",
            "line",
            "covered in horizon",
            "month p10 / p50 / p90",
            "covered by end of estimate",
        ],
        rows,
    )


def dependence(as_json: JsonFlag = False) -> None:
    """China's share of each stage, HHI and US import reliance, with the seed figures beside the computed
    ones (within the stated tolerance or not).

    Example: raretrace dependence --json
    """
    from raretrace.world.data import WorldData
    from raretrace.world.metrics import import_source_shares, seed_check
    from raretrace.world.report import control_rows, dependence_rows

    data = WorldData.load()
    rows = dependence_rows(data, seed_check(data))
    imports = import_source_shares(data, "US")
    reliance = [
        {
            "country": r.country,
            "period": r.period,
            "share": r.share,
            "at_least": r.at_least,
            "source": r.source,
        }
        for r in data.reliance
    ]
    if as_json:
        emit_json(
            {
                "stages": [asdict(r) for r in rows],
                "us_import_sources": {
                    "period_start": imports.year,
                    "shares": dict(imports.shares),
                    "unallocated": imports.unallocated,
                },
                "us_import_reliance": reliance,
                "mining_by_control": control_rows(data),
            }
        )
        return
    _print_dependence(data, rows, imports)


def _print_dependence(data: WorldData, rows: list[DependenceRow], imports: StageDistribution) -> None:
    from raretrace.world.report import control_shares

    _print_table(
        "China's share by stage: computed vs seed",
        ["stage", "year", "China (data)", "seed", "diff (pp)", "within ±tol", "HHI", "basis"],
        [
            [
                r.stage,
                str(r.year),
                _pct(r.china_share),
                _pct(r.seed_share),
                f"{r.difference_pp:+.1f}" if r.difference_pp is not None else "—",
                f"{'yes' if r.within_tolerance else 'NO'} (±{r.tolerance_pp or 0:g})",
                f"{r.hhi_low:,.0f}" + ("" if abs(r.hhi_high - r.hhi_low) < 0.5 else f"–{r.hhi_high:,.0f}"),
                r.basis,
            ]
            for r in rows
        ],
    )
    _print_table(
        "by location and by control (who takes the ore, who owns the plants)",
        ["group", "basis", "by location", "by control", "controller not known"],
        [
            [" + ".join(g.group), g.basis, _pct(g.by_location), _pct(g.by_control), _pct(g.not_known)]
            for g in control_shares(data)
        ],
    )
    out_console.print(
        "US import reliance (compounds and metals): "
        + "; ".join(f"{r.period} {'>' if r.at_least else ''}{_pct(r.share)}" for r in data.reliance)
        + "; import sources: "
        + ", ".join(f"{k} {_pct(v)}" for k, v in imports.shares.items()),
        highlight=False,
        soft_wrap=True,
    )


def economics(
    members: MembersOption = None,
    volume: Annotated[
        float | None,
        typer.Option("--volume", help="Tonnes a year the floor covers (default: MP's 2024 NdPr output)"),
    ] = None,
    floor_row: Annotated[
        str, typer.Option("--floor-row", help="Premium row whose allied price is the floor")
    ] = "ndpr-floor-vs-fob",
    as_json: JsonFlag = False,
) -> None:
    """The premium of allied supply by stage, its cost per platform, the fee per consortium member that
    funds a price floor, and the same figures if allied costs were 100-500x Chinese.

    Example: raretrace economics --members 14 --volume 1300
    """
    from raretrace.cli.world_markets import print_element_costs
    from raretrace.world.data import WorldData
    from raretrace.world.economics import economics as compute
    from raretrace.world.element_cost import element_economics

    data = WorldData.load()
    econ = compute(data, _members(members), floor_row=floor_row, volume_t=volume)
    elements = element_economics(data)
    if as_json:
        emit_json({**econ.to_dict(), **elements.to_dict()})
        return
    _print_economics(econ)
    print_element_costs(elements)


def _print_economics(econ: Economics) -> None:
    _print_table(
        "published premiums (allied / China)",
        ["stage", "product", "ratio", "USD/kg", "comparison"],
        [
            [
                p.stage,
                p.product,
                "—"
                if p.ratio_low is None
                else f"{p.ratio_low:.2f}–{p.ratio_high:.2f}x" + (" (thin market)" if p.thin_market else ""),
                "—"
                if p.usd_per_kg_low is None or p.usd_per_kg_high is None
                else _usd(p.usd_per_kg_low, p.usd_per_kg_high),
                p.comparison,
            ]
            for p in econ.premiums
        ],
    )
    _print_table(
        "premium per platform (content x premium per kg)",
        ["platform", "content kg", "premium row", "USD"],
        [
            [c.platform, f"{c.content_kg:,.1f}", c.premium_id, _usd(c.usd_low, c.usd_high)]
            for c in econ.platform_costs
        ],
    )
    f = econ.floor
    out_console.print(
        f"price floor ${f.floor_usd_per_kg:,.0f}/kg vs market "
        f"${f.market_usd_per_kg_low:,.0f}–{f.market_usd_per_kg_high:,.0f}/kg "
        f"on {f.volume_t:,.0f} t/yr: {_usd(f.annual_cost_usd_low, f.annual_cost_usd_high)} a year, "
        f"{_usd(f.per_member_usd_low, f.per_member_usd_high)} per member ({f.members} members)",
        highlight=False,
        soft_wrap=True,
    )
    platforms = list(econ.sensitivity[0].platform_usd) if econ.sensitivity else []
    _print_table(
        "if allied costs were m x China's price",
        ["m", "evidence", "premium USD/kg", "fee per member/yr", *platforms],
        [
            [
                f"{r.multiplier:g}x",
                r.label or "—",
                _usd(r.premium_usd_per_kg_low, r.premium_usd_per_kg_high),
                _usd(r.per_member_usd_low, r.per_member_usd_high),
                *[_usd(*r.platform_usd[p]) for p in platforms],
            ]
            for r in econ.sensitivity
        ],
    )


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
    json_dir: JsonDir = None,
    csv_dir: CsvDir = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="Scenario file or shipped name; repeatable (default: all shipped)"),
    ] = None,
    paths: PathsOption = 10_000,
    seed: SeedOption = 0,
    model: ModelOption = None,
    members: MembersOption = None,
) -> None:
    """Write the self-contained HTML report (charts with plotly inlined: Sankey of flows, unmet demand per
    month, forecast bands, dependence, economics) and, on request, every table as JSON and CSV.

    Example: raretrace report --out report.html --csv tables/ --json tables/
    """
    from raretrace.world.report import analyse, render_html, tables

    names = scenario or list(_shipped_scenarios())
    scenarios = [load_scenario(name)[0] for name in names]
    plan = _plan(model)
    n_members = _members(members)
    with _progress("report") as update:
        analysis = analyse(scenarios, plan, members=n_members, paths=paths, seed=seed, progress=update)
        update("rendering", 0, 1)
        html = render_html(analysis)
        all_tables = tables(analysis)
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
    except OSError as e:
        raise ValidationError(f"cannot write {out}: {e.strerror}", field="--out") from e
    tmp.replace(out)
    written = write_tables(all_tables, csv_dir, json_dir)
    out_console.print(
        f"report written to {escape(str(out))} ({len(html) / 1e6:.1f} MB, {len(all_tables)} tables"
        + (f", {len(written)} table files" if written else "")
        + ")",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.add_typer(scenario_app, name="scenario")
    app.command()(forecast)
    app.command()(dependence)
    app.command()(economics)
    app.command()(report)
    from raretrace.cli.world_markets import backtest

    app.command()(backtest)
