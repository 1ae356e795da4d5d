"""Machine-readable CLI output is whole and deterministic.

Every command below is run as a user runs it, in a subprocess with stdout on a pipe, once at
``COLUMNS=40`` with one hash seed and once at ``COLUMNS=400`` with another: the bytes must be the same
(nothing wrapped at the terminal width, nothing ordered by Python's hash seed). A cosigned checkpoint
that ``raretrace witness`` printed into a file must verify with the log's and the witness's keys. A
table printed to a narrow terminal shows every value whole.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import JP_CHAIN, ScriptedChain, two_reference_chains
from raretrace.ledger.witnessing import witness_key
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.cosignature import verify_cosignature
from raretrace.log.note import split_note, verifier_key_text
from raretrace.render.tables import print_table
from raretrace.store.db import make_engine

MAGNET = JP_CHAIN.magnet
CONC = JP_CHAIN.concentrate
#: a long origin, so that a checkpoint's first line is wider than a 40-column terminal
LOG_ORIGIN = "registry.national-authority.example.org/rare-earth-custody-log"


def _run(db: Path, args: list[str], columns: int, seed: int, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONHASHSEED": str(seed), "TERM": "xterm-256color"}
    return subprocess.run(
        [sys.executable, "-m", "raretrace", "--db", str(db), *args],
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("machine")
    path = folder / "registry.db"
    chain = ScriptedChain(Registry.init(make_engine(f"sqlite:///{path}"), LOG_ORIGIN))
    two_reference_chains(chain)
    return path


#: stdout of each is for programs: JSON, a signed note, a key line
PRINTED = [
    ["lot", "show", MAGNET, "--json"],
    ["trace", MAGNET, "--up", "--json"],
    ["trace", CONC, "--down", "--json"],
    ["check", MAGNET, "--as-of", "2026-06-01", "--json"],
    ["check", MAGNET, "--as-of", "2026-06-01", "--upcoming", "--json"],
    ["regimes", "--json"],
    ["facility", "list", "--json"],
    ["log", "checkpoint"],
    ["log", "public-key"],
    ["log", "audit", "--json"],
    ["dependence", "--json"],
]
#: files each writes (--out), compared the same way
WRITTEN = [
    ["export", "lots", "--format", "csv"],
    ["export", "lots", "--format", "json"],
    ["export", "traces", "--lot", MAGNET, "--format", "csv"],
    ["export", "verdicts", "--lot", MAGNET, "--as-of", "2026-06-01", "--format", "json"],
    ["export", "facilities", "--format", "csv"],
    ["export", "events", "--format", "json"],
]


@pytest.mark.parametrize("args", PRINTED, ids=" ".join)
def test_printed_output_is_the_same_bytes_at_any_width_and_hash_seed(
    registry_file: Path, args: list[str], tmp_path: Path
) -> None:
    narrow = _run(registry_file, args, 40, 1, tmp_path)
    wide = _run(registry_file, args, 400, 2, tmp_path)
    assert narrow.returncode == 0, narrow.stderr.decode()
    assert narrow.stdout, "nothing printed"
    assert narrow.stdout == wide.stdout
    if "--json" in args:
        json.loads(narrow.stdout)  # one JSON document, whole


#: the command line parser's own errors under --json: the one error object, exit code 2 (docs/cli.md)
USAGE_ERRORS = [
    (["check", "--json"], "lots", "Missing argument 'lots'."),
    (["lot", "show", MAGNET, "--json", "--bogus"], None, "No such option: --bogus"),
    (["check", MAGNET, "--json", "--as-of"], None, "Option '--as-of' requires an argument."),
    (["trace", MAGNET, "--json", "--max-paths", "many"], "max_paths", "Invalid value for '--max-paths'"),
]


@pytest.mark.parametrize(
    ("args", "field", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _, _ in USAGE_ERRORS]
)
def test_usage_errors_under_json_are_the_one_error_object(
    registry_file: Path, args: list[str], field: str | None, message: str, tmp_path: Path
) -> None:
    narrow = _run(registry_file, args, 40, 1, tmp_path)
    wide = _run(registry_file, args, 400, 2, tmp_path)
    assert narrow.returncode == 2, narrow.stderr.decode()
    assert narrow.stdout == wide.stdout
    error = json.loads(narrow.stdout)["error"]
    assert error["kind"] == "UsageError" and error["exit_code"] == 2 and error["field"] == field
    assert message in error["message"]
    assert "Traceback" not in narrow.stderr.decode()


@pytest.mark.parametrize("args", WRITTEN, ids=" ".join)
def test_written_files_are_the_same_bytes_at_any_width_and_hash_seed(
    registry_file: Path, args: list[str], tmp_path: Path
) -> None:
    outputs = []
    for columns, seed in ((40, 1), (400, 2)):
        out = tmp_path / f"{columns}.{args[-1]}"
        done = _run(registry_file, [*args, "--out", str(out)], columns, seed, tmp_path)
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(out.read_bytes())
    assert outputs[0] and outputs[0] == outputs[1]


def test_a_witness_note_saved_to_a_file_verifies(registry_file: Path, tmp_path: Path) -> None:
    witness_path = tmp_path / "witness.db"
    witness = Registry.init(make_engine(f"sqlite:///{witness_path}"), "witness.partner.example.org/w")
    log = Registry(make_engine(f"sqlite:///{registry_file}"))
    log_key = verifier_key_text(log.origin, log.signer.public_key)
    saved = tmp_path / "cosigned.txt"
    done = _run(witness_path, ["witness", str(registry_file), "--log-key", log_key], 40, 3, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    saved.write_bytes(done.stdout)  # what `raretrace witness … > cosigned.txt` leaves
    note = saved.read_text(encoding="utf-8")
    checkpoint = open_checkpoint(note, log_key)  # the log's signature holds
    assert checkpoint.size == log.tree_size()
    text, lines = split_note(note)
    (ours,) = [line for line in lines if line.startswith(f"— {witness.origin} ")]
    verify_cosignature(text, ours, witness_key(witness))  # and the witness's
    assert b"witnessed" in done.stderr  # the account of what happened goes to stderr


def test_a_table_too_wide_for_the_terminal_shows_every_value_whole() -> None:
    headers = ["regime", "lot 1", "lot 2", "lot 3"]
    rows = [
        ["us-dfars-252.225-7052-2027", "licence_required", "insufficient_data", "not_applicable"],
        ["cn-mofcom-61-2025", "pass", "fail", "licence_required"],
    ]
    for width in (40, 400):
        buffer = io.StringIO()
        console = Console(file=buffer, width=width, force_terminal=True, color_system=None, emoji=False)
        print_table(console, headers, rows, title="compliance")
        shown = buffer.getvalue()
        assert "…" not in shown
        assert max(len(line) for line in shown.splitlines()) <= width
        for row in rows:
            for value in row:
                assert value in shown, (width, value, shown)
