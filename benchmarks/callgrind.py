"""Instruction counts of a whole Python process under valgrind's callgrind: the load-independent
measure the benchmarks' ``--callgrind`` modes subtract (a run doing K units minus one doing fewer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence


def instructions_of(script: str, arguments: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Instructions executed by ``python script *arguments`` under callgrind (hash seed fixed, so two
    runs differ only by what they do)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, script]
    environment = {**(env if env is not None else os.environ), "PYTHONHASHSEED": "0"}
    done = subprocess.run([*command, *arguments], capture_output=True, text=True, env=environment, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))
