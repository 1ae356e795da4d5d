"""`raretrace log publish`: the log as static C2SP tlog-tiles, checked by an independent reader.

The reader (tests/static_tiles.py) shares no code with raretrace.log: it verifies the published
directory, on disk and through a plain HTTP server, against the registry's checkpoint, and checks
the registry's RFC 6962 inclusion and consistency proofs against the hashes it read from the files.
"""

from __future__ import annotations

import base64
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.custody.namespaces import namespaced
from raretrace.errors import ProofError
from raretrace.ledger import logview
from raretrace.ledger.publish import publish, tiles_of
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.log.tiles import TilePath
from raretrace.store.db import make_engine
from tests.chain_fixtures import ORE, mine_and_separator, new_registry
from tests.static_tiles import StaticLog, StaticLogError, verify_consistency, verify_inclusion
from tests.test_cli import Cli


def grow(chain: ScriptedChain, count: int, tag: str) -> None:
    """``count`` more extract events by the mine, appended in batches."""
    envelopes = [
        chain.envelope(
            "US-MINE",
            "extract",
            deposit="Mountain Pass",
            outputs=[lot(namespaced("lot", "US-MINE", f"{tag}-{i}"), "ore", 10.0 + i, ORE)],
        )
        for i in range(count)
    ]
    for start in range(0, count, 250):
        chain.registry.append(envelopes[start : start + 250])


def reader_on_disk(directory: Path, registry: Registry) -> StaticLog:
    return StaticLog(
        lambda path: (directory / path).read_bytes(), registry.origin, registry.signer.public_key
    )


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Python's own http.server on a loopback port, serving ``directory`` as plain files."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


@pytest.fixture
def chain(db_url: str) -> ScriptedChain:
    chain = mine_and_separator(db_url)
    grow(
        chain, 601, "a"
    )  # 605 leaves (4 set-up events): two full level-0 tiles, a partial one, a level-1 tile
    return chain


def test_published_directory_verifies_against_the_registry_checkpoint(
    chain: ScriptedChain, tmp_path: Path
) -> None:
    registry, out = chain.registry, tmp_path / "pub"
    result = publish(registry, out)
    head, leaves = reader_on_disk(out, registry).verify()
    assert head.size == registry.tree_size() == 605
    assert head.note == logview.latest_checkpoint(registry)
    # 2 full + 1 partial level-0 tiles, 1 partial level-1 tile, 3 entry bundles, the checkpoint
    assert result.files_written == 2 + 1 + 1 + 3 + 1 == len(files_of(out))
    assert (out / "tile/0/002.p/93").exists() and (out / "tile/1/000.p/2").exists()
    # the registry's inclusion proofs check against the hashes read from the files
    for index in (0, 255, 256, 511, 604):
        proof = logview.inclusion_proof(registry, index)
        hashes = [base64.b64decode(h) for h in proof.proof]
        assert verify_inclusion(index, head.size, leaves[index], hashes, head.root)
        assert not verify_inclusion(index, head.size, leaves[(index + 1) % head.size], hashes, head.root)


def test_publishing_again_writes_only_the_new_files_and_the_trees_are_consistent(
    chain: ScriptedChain, tmp_path: Path
) -> None:
    registry, out = chain.registry, tmp_path / "pub"
    publish(registry, out)
    first = reader_on_disk(out, registry).head()
    before = files_of(out)
    grow(chain, 300, "b")
    result = publish(registry, out)
    after = files_of(out)
    head, _ = reader_on_disk(out, registry).verify()
    assert (result.previous_size, result.tree_size) == (605, 905)
    # every file written before is still there, byte for byte, except the checkpoint
    assert {k: v for k, v in after.items() if k in before and k != "checkpoint"} == {
        k: v for k, v in before.items() if k != "checkpoint"
    }
    new = set(after) - set(before)
    # 905 leaves: level 0 gains tiles 2 (now full) and 3 (.p/137); level 1 gains .p/3; bundles the same
    assert new == {
        "tile/0/002",
        "tile/0/003.p/137",
        "tile/1/000.p/3",
        "tile/entries/002",
        "tile/entries/003.p/137",
    }
    assert result.files_written == len(new) + 1
    proof = [base64.b64decode(h) for h in logview.consistency_proof(registry, 605, 905).proof]
    assert verify_consistency(first.size, head.size, proof, first.root, head.root)
    assert not verify_consistency(first.size, head.size, proof, head.root, first.root)
    # nothing new: only the checkpoint is rewritten
    assert publish(registry, out).files_written == 1


def test_static_files_over_plain_http_match_the_api(chain: ScriptedChain, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from raretrace.ledger.participants import add_participant, issue_token
    from raretrace.server.app import create_app
    from raretrace.server.settings import Settings

    registry, out = chain.registry, tmp_path / "pub"
    publish(registry, out)
    add_participant(registry.engine, "secretariat", "Secretariat", "secretariat")
    issue_token(registry.engine, "secretariat")
    api = TestClient(create_app(Settings(), registry=registry))
    with static_server(out) as url, httpx.Client(base_url=url) as client:

        def fetch(path: str) -> bytes:
            response = client.get("/" + path)
            response.raise_for_status()
            return response.content

        head, _ = StaticLog(fetch, registry.origin, registry.signer.public_key).verify(with_entries=False)
        assert head.size == 605
        for path in ("checkpoint", "tile/0/000", "tile/0/002.p/93", "tile/1/000.p/2"):
            assert fetch(path) == api.get("/" + path).content, path


def test_without_entries_only_hash_tiles_are_published(chain: ScriptedChain, tmp_path: Path) -> None:
    out = tmp_path / "pub"
    publish(chain.registry, out, entries=False)
    assert not (out / "tile/entries").exists()
    reader_on_disk(out, chain.registry).verify(with_entries=False)


def test_the_reader_catches_a_tampered_tile_or_entry(chain: ScriptedChain, tmp_path: Path) -> None:
    out = tmp_path / "pub"
    publish(chain.registry, out)
    for name in ("tile/0/001", "tile/entries/000"):
        copy = tmp_path / name.replace("/", "_")
        shutil.copytree(out, copy)
        data = bytearray((copy / name).read_bytes())
        data[40] ^= 1
        (copy / name).write_bytes(bytes(data))
        with pytest.raises(StaticLogError):
            reader_on_disk(copy, chain.registry).verify()


def forks(tmp_path: Path, sizes: dict[str, int]) -> dict[str, Registry]:
    """Registries with one origin and one key (so each signs checkpoints the others' readers accept),
    each with its own ``count`` extract events: the same log presented as different trees."""
    key = Ed25519Signer.generate()
    out = {}
    for name, count in sizes.items():
        registry = Registry.init(
            make_engine(f"sqlite:///{tmp_path / name}.db"), "fork.example/log", signer=key
        )
        chain = ScriptedChain(registry)
        chain.add_facility("US-MINE", country="US", stages=["mining"])
        grow(chain, count, name)
        out[name] = registry
    return out


def test_another_log_a_rollback_a_fork_or_a_changed_tile_is_refused_with_nothing_written(
    chain: ScriptedChain, tmp_path: Path
) -> None:
    out = tmp_path / "pub"
    publish(chain.registry, out)
    before = files_of(out)
    other = new_registry(f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(ProofError, match="not a checkpoint of this log"):
        publish(other, out)
    assert files_of(out) == before
    # the same log (origin and key) shown as a smaller tree, another tree of the same size, or a
    # larger tree that does not extend the published one
    logs = forks(tmp_path, {"big": 20, "small": 10, "same": 20, "longer": 30})
    fork = tmp_path / "fork"
    publish(logs["big"], fork)
    published = files_of(fork)
    for name, reason in (("small", "rolled back"), ("same", "split view"), ("longer", "does not extend")):
        with pytest.raises(ProofError, match=reason):
            publish(logs[name], fork)
        assert files_of(fork) == published, name
    # a directory whose checkpoint is gone and whose tiles were changed is refused too
    (out / "checkpoint").unlink()
    data = bytearray((out / "tile/0/000").read_bytes())
    data[0] ^= 1
    (out / "tile/0/000").write_bytes(bytes(data))
    with pytest.raises(ProofError, match="differs from the registry's tile/0/000"):
        publish(chain.registry, out)
    assert not (out / "checkpoint").exists()


def test_tiles_of_lists_what_a_tree_adds() -> None:
    assert list(tiles_of(0)) == []
    assert list(tiles_of(3, entries=False)) == [TilePath(0, 0, 3)]
    assert list(tiles_of(256, since=3, entries=False)) == [TilePath(0, 0), TilePath(1, 0, 1)]
    assert list(tiles_of(256, since=256)) == []


def test_cli_publish(
    chain: ScriptedChain, tmp_path: Path, db_url: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    cli = Cli(tmp_path, capsysbinary, db_url)
    out = tmp_path / "pub"
    assert cli.json("log", "publish", "--to", str(out))["tree_size"] == 605
    assert cli.json("log", "publish", "--to", str(out))["files_written"] == 1
    other = Cli(tmp_path, cli.capsys, f"sqlite:///{tmp_path / 'other.db'}")
    assert other("init", "--origin", "other.example/log")[0] == 0
    code, _, err = other("log", "publish", "--to", str(out))
    assert code == 6 and "not a checkpoint of this log" in err
