"""The layer contract (pyproject's [tool.importlinter], drawn in docs/architecture.md) holds, and breaks
when a module imports across it: the rule is enforced, not only written down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_the_layer_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "raretrace",
        tmp_path / "src" / "raretrace",
        ignore=shutil.ignore_patterns("data", "__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_domain_module_that_opens_the_database_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    events = root / "src" / "raretrace" / "custody" / "events.py"
    events.write_text(events.read_text() + "\nimport raretrace.store.db  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "raretrace.custody.events -> raretrace.store.db" in result.stdout


def test_a_service_that_imports_an_interface_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    registry = root / "src" / "raretrace" / "ledger" / "registry.py"
    registry.write_text(registry.read_text() + "\nimport raretrace.server.app  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "raretrace.ledger.registry -> raretrace.server.app" in result.stdout


def test_a_server_module_that_imports_the_database_library_breaks_the_contract(tmp_path: Path) -> None:
    """Issue #18: the server holds no SQL; a route module reaching for SQLAlchemy or the tables fails."""
    root = _copy(tmp_path)
    lots = root / "src" / "raretrace" / "server" / "api_lots.py"
    lots.write_text(
        lots.read_text() + "\nimport sqlalchemy  # noqa: E402\nimport raretrace.store.schema  # noqa: E402\n"
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "raretrace.server.api_lots -> sqlalchemy" in result.stdout
    assert "raretrace.server.api_lots -> raretrace.store.schema" in result.stdout


def test_a_registry_service_that_builds_sql_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    logview = root / "src" / "raretrace" / "ledger" / "logview.py"
    logview.write_text(logview.read_text() + "\nimport raretrace.store.schema  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "raretrace.ledger.logview -> raretrace.store.schema" in result.stdout
