"""A command whose database fails under it (a server that refuses connections) exits 7 with a message
naming the database, as ``StoreError`` does, and never 70 ("internal error", a bug) or a traceback.

Run as a user runs it: in a subprocess, stdout and stderr on pipes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _raretrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raretrace", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_refused_database_exits_7_naming_it() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/raretrace"
    done = _raretrace("--db", url, "lot", "show", "urn:raretrace:lot:x:1")
    assert done.returncode == 7, done.stderr
    assert "db:" in done.stderr and "Connection refused" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_a_refused_database_gives_one_json_error() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/raretrace"
    done = _raretrace("--db", url, "lot", "show", "urn:raretrace:lot:x:1", "--json")
    assert done.returncode == 7, done.stderr
    error = json.loads(done.stdout)["error"]
    assert (error["kind"], error["exit_code"], error["field"]) == ("UnavailableError", 7, "db")
