"""Every file a data row, a page or a doc cites as its source is in this repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"docs/reference/[\w.-]+\.md")


def _texts() -> list[Path]:
    files = [*(ROOT / "src" / "raretrace").rglob("*"), *(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    return [p for p in files if p.suffix in {".json", ".toml", ".py", ".md", ".html", ".j2"} and p.is_file()]


def test_every_cited_reference_file_is_in_the_repository() -> None:
    cited = {m for path in _texts() for m in CITED.findall(path.read_text(encoding="utf-8"))}
    assert cited, "nothing cites docs/reference: the test would prove nothing"
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert not missing, missing


def test_nothing_cites_notes_outside_the_repository() -> None:
    outside = [p for p in _texts() if "shared/reference" in p.read_text(encoding="utf-8")]
    assert not outside, outside
