"""Property-based attacks (hypothesis): random, huge, deep and malformed JSON — and bytes that are not
JSON at all — thrown at every write endpoint of the API and the web forms, and at every CLI command
that reads a file. Never a 5xx, never a traceback; after every refusal the database, the tiles and the
checkpoint are exactly as they were (``chain_fixtures.snapshot``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretrace.cli.main import INTERNAL_ERROR, main
from tests.chain_fixtures import snapshot
from tests.test_server_support import ServerWorld, server_world

#: every endpoint that writes (or judges a body), with the content type it reads
WRITES = [
    ("/api/v1/events", "application/json"),
    ("/api/v1/events/batch", "application/json"),
    ("/api/v1/events/batch", "application/x-ndjson"),
    ("/api/v1/certificates", "application/json"),
    ("/api/v1/certificates/XX-2026-000001/revoke", "application/json"),
    ("/api/v1/participants", "application/json"),
    ("/api/v1/participants/jp/tokens", "application/json"),
    ("/api/v1/facilities", "application/json"),
    ("/api/v1/corrections", "application/json"),
    ("/api/v1/check", "application/json"),
    ("/api/v1/verify", "application/json"),
    ("/api/v1/trusted-registries", "application/json"),
    ("/api/v1/log/witnesses", "application/json"),
    ("/api/v1/log/cosignatures", "text/plain"),
    ("/add-checkpoint", "text/plain"),
    ("/api/v1/confirmations", "application/json"),
    ("/api/v1/shipments", "application/json"),
    ("/api/v1/shipments/waiting", "application/json"),
    ("/api/v1/fingerprint", "application/json"),
    ("/api/v1/scenarios/run", "application/json"),
]
FORMS = [("/submit", "envelopes"), ("/verify", "certificate"), ("/scenario", "scenario"), ("/login", "token")]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# objects shaped like what the endpoints expect, with hostile values in their fields
FIELDS = [
    "payload",
    "payloadType",
    "signatures",
    "envelopes",
    "lots",
    "transfer",
    "reason",
    "id",
    "name",
    "role",
    "facility",
    "keys",
    "target_event",
    "certificate",
    "trusted_keys",
    "csv",
    "verifier_key",
    "regimes",
    "as_of",
    "valid_days",
    "scenario",
    "amend_lots",
]
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _numbers() -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [b"1e400", b"-1e400", b"1" + b"0" * 400, b"NaN", b"Infinity", b"-0", b"1e-400"]
    ).map(lambda n: b'{"lots":[' + n + b'],"mass_kg":' + n + b',"valid_days":' + n + b"}")


bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1_000, max_value=60_000).map(_deep),
    st.integers(min_value=1_000, max_value=30_000).map(lambda d: b'{"envelopes":' + _deep(d) + b"}"),
    _numbers(),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(min_value=1, max_value=3).map(lambda n: b'{"csv":"' + b"a" * (n * 1_000_000) + b'"}'),
)


@pytest.fixture(name="fuzzed", scope="module")
def fuzzed_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerWorld]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'registry.db'}")
    yield w
    w.client.close()


def _refused_cleanly(w: ServerWorld, response: Any, before: dict[str, Any], what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert snapshot(w.registry) == before, what


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, endpoint=st.sampled_from(WRITES), who=st.sampled_from(["secretariat", "jp", None]))
def test_write_endpoints_refuse_anything_cleanly(
    fuzzed: ServerWorld, body: bytes, endpoint: tuple[str, str], who: str | None
) -> None:
    path, media = endpoint
    before = snapshot(fuzzed.registry)
    response = fuzzed.client.post(path, content=body, headers={**fuzzed.as_(who), "Content-Type": media})
    _refused_cleanly(fuzzed, response, before, f"POST {path}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, form=st.sampled_from(FORMS))
def test_web_forms_refuse_anything_cleanly(fuzzed: ServerWorld, body: bytes, form: tuple[str, str]) -> None:
    path, field = form
    before = snapshot(fuzzed.registry)
    fuzzed.client.cookies.set("raretrace_session", fuzzed.tokens["secretariat"])
    try:
        text = body.decode("utf-8", "replace")
        response = fuzzed.client.post(path, data={field: text})
    finally:
        fuzzed.client.cookies.clear()
    _refused_cleanly(fuzzed, response, before, f"POST {path}")


# --- the command line ---------------------------------------------------------------------------------

#: documented exit codes (docs/security.md): 0 done, 1-7 the error classes, 2 also usage errors, 70 a bug
DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 7}


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["raretrace", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    out = capsys.readouterr()
    code = ended.value.code if isinstance(ended.value.code, int) else (0 if ended.value.code is None else 1)
    return code, out.out + out.err


CLI = [
    (["record"], ".jsonl"),
    (["verify"], ".json"),
    (["import"], ".csv"),
    (["import"], ".json"),
    (["fingerprint"], ".csv"),
    (["trust-registry", "--trusted-keys"], ".json"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, command=st.sampled_from(CLI))
def test_cli_refuses_any_file_without_a_traceback(
    fuzzed: ServerWorld,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    command: tuple[list[str], str],
) -> None:
    args, suffix = command
    path = tmp_path_factory.mktemp("input") / f"input{suffix}"
    path.write_bytes(body)
    db = str(fuzzed.registry.engine.url)
    before = snapshot(fuzzed.registry)
    code, output = run_cli(["--db", db, *args, str(path)], capsys, monkeypatch)
    assert "Traceback" not in output, output[-2000:]
    assert code != INTERNAL_ERROR, output[-2000:]
    assert code in DOCUMENTED, (code, output[-2000:])
    if code != 0:
        assert output.strip(), "a refusal says why"
        assert snapshot(fuzzed.registry) == before


def test_the_cli_turns_a_bug_into_one_line_and_code_70(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last-resort handler (no input of the suites above reaches it; a failure inside does)."""
    import raretrace.cli.main as cli

    def broken(**_: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(cli, "app", broken)
    code, output = run_cli([], capsys, monkeypatch)
    assert code == INTERNAL_ERROR and "Traceback" not in output and "internal error (KeyError" in output
