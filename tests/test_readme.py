"""The README's walk-through runs as written, in a scratch folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "README has no walk-through block under 'Using it'"
    return match.group(1)


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    # `raretrace` runs through this interpreter, so the test does not depend on PATH or pyenv shims
    script = f'set -euo pipefail\nraretrace() {{ "{sys.executable}" -m raretrace "$@"; }}\n' + walkthrough()
    result = subprocess.run(
        ["bash", "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "audit passed: 2 leaves" in out
    lot, _ = json.JSONDecoder().raw_decode(out, out.index('{\n  "lot"'))
    assert lot["lot"]["custodian"] == "US-MINE-1" and lot["lot"]["mass_kg"] == 1000000
    assert "\n2\n" in out  # the checkpoint's tree size line
