"""``raretrace demo`` as a person runs it: a busy port is said before a minute of building, and the
progress bar on a terminal shows a total and an estimated time left."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from raretrace.demo import expected_lots


def test_a_busy_port_is_refused_before_building(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "raretrace", "demo", "--db", str(tmp_path / "d.db"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert f"port {port} on 127.0.0.1 is not free" in done.stderr and "--no-serve" in done.stderr
    assert not (tmp_path / "d.db").exists()  # nothing built: refused before the first lot, not after a minute


def test_the_progress_bar_shows_a_total_and_the_time_left(tmp_path: Path) -> None:
    """Run on a pseudo-terminal (the bar shows only on one) at COLUMNS=160."""
    primary, secondary = os.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    command = [sys.executable, "-m", "raretrace", "demo", "--db", str(tmp_path / "d.db"), "--scale", "0.05"]
    process = subprocess.Popen(
        [*command, "--no-serve"],
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=300) == 0
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))
    total = expected_lots(0.05)
    assert re.search(rf"\d+/{total} lots", text), text[-2000:]
    assert re.search(r"ETA (\d+:\d\d:\d\d|-:--:--)", text), text[-2000:]
