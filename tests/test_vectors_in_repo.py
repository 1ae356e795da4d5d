"""The conformance vectors kept in the repository are the ones the project was given, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.shared_files import IN_REPO

BESIDE = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def test_every_vector_folder_keeps_its_licence() -> None:
    for folder in ("rfc6962", "eddsa-jcs-2022"):
        licences = list((IN_REPO / "vectors" / folder).glob("LICENSE*"))
        assert licences and licences[0].stat().st_size > 100, folder


#: The folders copied from the project's shared vectors (compose-spec/ comes from its own repository).
SHARED_FOLDERS = ("rfc6962", "eddsa-jcs-2022")


def _digests(root: Path) -> dict[str, str]:
    return {
        "./" + str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in SHARED_FOLDERS
        for p in sorted((root / folder).rglob("*.json"))
    }


def _manifest() -> dict[str, str]:
    """SHA256SUMS, written when the vectors were copied from the project's shared folder."""
    lines = (IN_REPO / "vectors" / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_in_repo_vectors_are_the_ones_copied() -> None:
    """Every vector file, byte for byte, as recorded when it was copied (and no file added or lost); where
    the project's shared/ folder lies beside the checkout, it holds exactly those files too."""
    manifest = _manifest()
    assert len(manifest) > 100
    assert _digests(IN_REPO / "vectors") == manifest
    if BESIDE.is_dir():
        assert _digests(BESIDE) == manifest
