"""The README's walk-through runs as written, in a scratch folder."""

from __future__ import annotations

import json
from pathlib import Path

from tests.doc_blocks import ROOT, bash_blocks, run_script


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    out = run_script(
        bash_blocks(ROOT / "README.md", "## Using it", first_only=True), tmp_path, timeout=120
    ).stdout
    assert "audit passed: 2 leaves" in out
    # `lot show --json`: its one JSON object (keys sorted, so "lot" is not the first)
    starts = [i for i in range(len(out)) if out.startswith("{\n  ", i)]
    objects = [json.JSONDecoder().raw_decode(out, i)[0] for i in starts]
    (lot,) = [o for o in objects if "lot" in o and "inputs" in o]
    assert lot["lot"]["custodian"] == "US-MINE-1" and lot["lot"]["mass_kg"] == 1000000
    assert "\n2\n" in out  # the checkpoint's tree size line
