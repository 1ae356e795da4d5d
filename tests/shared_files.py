"""Finding the project's shared/ folder (conformance vectors) beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

UNDER_CI = os.environ.get("CI", "").lower() == "true"


#: The vectors copied into the repository (tests/vectors/, with their licences).
IN_REPO = Path(__file__).parent


def find_shared() -> Path | None:
    """$RARETRACE_SHARED, else the repository's own copies (tests/vectors/), else a shared/ folder
    beside the checkout (as CI lays it), else None."""
    env = os.environ.get("RARETRACE_SHARED")
    here = Path(__file__)
    candidates = [Path(env)] if env else []
    candidates.append(IN_REPO)
    candidates += [here.resolve().parents[2] / "shared", here.absolute().parents[2] / "shared"]
    candidates += [Path.cwd().parent / "shared"]
    for candidate in candidates:
        if (candidate / "vectors").is_dir():
            return candidate
    return None
