"""Running a document's shell walk-through exactly as a reader would, in a scratch folder.

Guides promise "runnable as written"; these helpers keep that promise checked. ``raretrace`` runs
through this interpreter, so the tests do not depend on PATH or pyenv shims.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bash_blocks(document: Path, after: str | None = None, *, first_only: bool = False) -> str:
    """The ```bash blocks of ``document`` (after the heading ``after`` if given), joined in order."""
    text = document.read_text(encoding="utf-8")
    if after is not None:
        assert after in text, f"{document.name} has no section {after!r}"
        text = text.split(after, 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks, f"{document.name} has no bash block" + (f" under {after!r}" if after else "")
    return blocks[0] if first_only else "\n".join(blocks)


def run_script(
    script: str, cwd: Path, *, copy: tuple[str, ...] = ("docs",), timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``set -euo pipefail`` in ``cwd`` after copying ``copy`` (paths relative to
    the repository) there; returns the finished process (stdout, and stderr where errors and
    progress go), and fails the test with both if a command fails."""
    for name in copy:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, cwd / name, dirs_exist_ok=True)
        else:
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, cwd / name)
    prelude = f'set -euo pipefail\nraretrace() {{ "{sys.executable}" -m raretrace "$@"; }}\n'
    result = subprocess.run(
        ["bash", "-c", prelude + script],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"exit {result.returncode}\n--- stderr\n{result.stderr}\n--- stdout\n{result.stdout[-3000:]}"
    )
    return result
