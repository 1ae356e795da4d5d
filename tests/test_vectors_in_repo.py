"""The conformance vectors kept in the repository are the ones the project was given, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_files import IN_REPO

BESIDE = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def test_every_vector_folder_keeps_its_licence() -> None:
    for folder in ("rfc6962", "eddsa-jcs-2022"):
        licences = list((IN_REPO / "vectors" / folder).glob("LICENSE*"))
        assert licences and licences[0].stat().st_size > 100, folder


@pytest.mark.skipif(not BESIDE.is_dir(), reason="no shared/ folder beside this checkout to compare with")
def test_in_repo_vectors_equal_the_shared_copies() -> None:
    shared = {p.relative_to(BESIDE): p.read_bytes() for p in BESIDE.rglob("*.json")}
    ours = {p.relative_to(IN_REPO / "vectors"): p.read_bytes() for p in (IN_REPO / "vectors").rglob("*.json")}
    assert shared and ours == shared
