"""The outputs of the trace, verdict and search answers as their callers receive them, for the before/after
test of issue #18 (``tests/test_typed_answers_unchanged.py``; this module holds no tests).

The world: the two reference chains of the server tests with their five participants, the Japanese magnet
assembled by another participant into a component (so an operator's traces have hidden lots up and down),
and the blend-and-diamond chain of ``tests/test_lineage.py`` (two ores by two paths each into one metal:
several sources, several paths per source, shares below one). ``capture`` gives, by name, the exact bytes of
each API answer, CLI output, export file and web page that shows a trace, a verdict or a search result.

``python -m tests.typed_answers_world OUT.json`` writes them; the stored file
``tests/data/typed_answers_before.json`` was written this way by the code before the services' answers
were typed (commit b0759df), so the test compares the typed answers' rendering with what the dicts gave.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from raretrace.ledger.scripted import ScriptedChain, lot
from tests.test_server_support import JP_CONC, JP_MAGNET, US_MAGNET, ServerWorld, server_world

COMPONENT = "urn:raretrace:lot:asm-motor"
METAL = "urn:raretrace:lot:metal"
ORE_A = "urn:raretrace:lot:ore-a"
COMP = {"Nd": 0.01, "Pr": 0.003}
CONC = {"Nd": 0.1, "Pr": 0.03}
AS_OF = "2027-01-02"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TODAY = re.compile(r"Judged as of \d{4}-\d{2}-\d{2}")
PARTICIPANTS = ("secretariat", "auditor", "jp", "us", "cn")


def _component(chain: ScriptedChain) -> None:
    """The Japanese magnet shipped to another participant's assembler and built into a motor."""
    chain.add_facility("XX-ASM", country="DE", stages=["component"])
    chain.ship("JP-MAG", "XX-ASM", [JP_MAGNET])
    chain.record(
        "XX-ASM",
        "assemble",
        stage="component",
        inputs=[{"lot": JP_MAGNET, "mass_kg": 800.0}],
        outputs=[lot(COMPONENT, "component", 2500.0, {"Nd": 0.072, "Pr": 0.0216, "Dy": 0.0024, "Fe": 0.9})],
        additions=[{"material": "steel housing", "mass_kg": 1700.0, "composition": {"Fe": 1.0}}],
    )


def _diamond(chain: ScriptedChain) -> None:
    """Ores A (300 kg) and B (100 kg) blended, separated into two oxides, both made into one metal."""
    chain.add_facility("MINE-AU", country="AU", stages=["mining"])
    chain.add_facility("MINE-CN", country="CN", stages=["mining"])
    chain.add_facility("SEP-MY", country="MY", stages=["beneficiation", "separation", "metallization"])
    for mine, name in (("MINE-AU", "ore-a"), ("MINE-CN", "ore-b")):
        chain.record(
            mine, "extract", deposit=name, outputs=[lot(f"urn:raretrace:lot:{name}", "ore", 1000.0, COMP)]
        )
        chain.ship(mine, "SEP-MY", [f"urn:raretrace:lot:{name}"])
    oxides = {"Nd": 0.6, "Pr": 0.2}
    steps = (
        (
            "beneficiation",
            [(ORE_A, 300.0), ("urn:raretrace:lot:ore-b", 100.0)],
            [("conc", "concentrate", 40.0)],
        ),
        (
            "separation",
            [("urn:raretrace:lot:conc", 40.0)],
            [("ox-1", "separated_oxide", 3.0), ("ox-2", "separated_oxide", 1.0)],
        ),
        (
            "metallization",
            [("urn:raretrace:lot:ox-1", 2.0), ("urn:raretrace:lot:ox-2", 1.0)],
            [("metal", "metal", 2.0)],
        ),
    )
    for stage, inputs, outputs in steps:
        chain.record(
            "SEP-MY",
            "process",
            stage=stage,
            inputs=[{"lot": lot_id, "mass_kg": kg} for lot_id, kg in inputs],
            outputs=[
                lot(f"urn:raretrace:lot:{name}", form, kg, CONC if stage == "beneficiation" else oxides)
                for name, form, kg in outputs
            ],
        )


def build(db: Path) -> ServerWorld:
    """The world, in a SQLite file at ``db``."""
    # a legacy registry (init --open-ids): the component and the diamond keep their free-form ids
    world = server_world(f"sqlite:///{db}", open_ids=True)
    _component(world.chain)
    _diamond(world.chain)
    return world


def _api(world: ServerWorld) -> dict[str, str]:
    out: dict[str, str] = {}
    client = world.client
    for who in PARTICIPANTS:
        for lot_id in (JP_MAGNET, JP_CONC, US_MAGNET, METAL, ORE_A, COMPONENT):
            for query in ("direction=up", "direction=down", "direction=up&max_paths=1"):
                answer = client.get(f"/api/v1/lots/{lot_id}/trace?{query}", headers=world.as_(who))
                out[f"api trace {who} {lot_id} {query}"] = f"{answer.status_code} {answer.text}"
        body = {"lots": [JP_MAGNET], "as_of": AS_OF}
        answer = client.post("/api/v1/check", json=body, headers=world.as_(who))
        out[f"api check {who}"] = f"{answer.status_code} {answer.text}"
        for query in ("", "?element=Nd&sort=-mass_kg", "?verdict=us-dfars-252.225-7052=fail&limit=2"):
            answer = client.get(f"/api/v1/search/lots{query}", headers=world.as_(who))
            out[f"api search {who} {query}"] = f"{answer.status_code} {answer.text}"
    return out


def _cli(world: ServerWorld, folder: Path) -> dict[str, str]:
    from typer.testing import CliRunner

    from raretrace.cli.main import app

    url = str(world.registry.engine.url)
    runner = CliRunner()
    commands = {
        f"cli trace {lot_id} {flags}": ["trace", lot_id, *flags.split()]
        for lot_id in (JP_MAGNET, METAL, ORE_A, COMPONENT)
        for flags in ("--up --json", "--down --json", "--up", "--down", "--up --max-paths 1 --json")
    }
    commands["cli check"] = ["check", JP_MAGNET, US_MAGNET, "--as-of", AS_OF, "--json"]
    commands["cli search"] = ["search", "--json"]
    commands["cli search nd"] = ["search", "--element", "Nd", "--sort", "-mass_kg", "--json"]
    for direction in ("", "--down"):
        for fmt in ("json", "csv"):
            target = folder / f"traces{direction}.{fmt}"
            commands[f"cli export traces {direction} {fmt}"] = [
                "export",
                "traces",
                "--format",
                fmt,
                "--out",
                str(target),
                *direction.split(),
            ]
    target = folder / "verdicts.json"
    commands["cli export verdicts"] = [
        "export",
        "verdicts",
        "--lot",
        JP_MAGNET,
        "--format",
        "json",
        "--out",
        str(target),
        "--as-of",
        AS_OF,
    ]
    out: dict[str, str] = {}
    for name, args in commands.items():
        result = runner.invoke(app, ["--db", url, *args], env={"COLUMNS": "200"})
        out[name] = f"{result.exit_code} {result.stdout}"
    for written in sorted(folder.iterdir()):
        out[f"file {written.name}"] = written.read_text(encoding="utf-8")
    return out


def _pages(world: ServerWorld) -> dict[str, str]:
    from tests.test_server_support import logged_in

    out: dict[str, str] = {}
    for who in ("auditor", "jp", "cn"):  # all, an operator with hidden lots, one that sees none of them
        with logged_in(world, who) as client:
            for lot_id in (JP_MAGNET, METAL):
                page = client.get(f"/lots/{lot_id}")
                out[f"page {who} {lot_id}"] = f"{page.status_code} {page.text}"
            page = client.get("/search?element=Nd")
            out[f"page search {who}"] = f"{page.status_code} {page.text}"
    return out


def capture() -> dict[str, str]:
    """Every output, by name, from a fresh world."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        world = build(folder / "registry.db")
        try:
            exports = folder / "exports"
            exports.mkdir()
            found = {**_api(world), **_cli(world, exports), **_pages(world)}
        finally:
            world.client.close()
    # what differs from run to run whatever the code: the temporary folder, plotly's random div ids, and
    # the day the lot page judges its verdicts on (today)
    return {
        name: _TODAY.sub("Judged as of <today>", _UUID.sub("<uuid>", text.replace(tmp, "<tmp>")))
        for name, text in found.items()
    }


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(capture(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
