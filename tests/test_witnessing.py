"""Consortium members witness each other's logs: append-only growth is cosigned, a rollback or a fork
is refused, and a split view between two witnesses is found from the notes they hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.custody.namespaces import namespaced
from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.ledger.certificates import issue, trusted_keys
from raretrace.ledger.logview import add_witness, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.ledger.witnessing import (
    RegistryLog,
    SplitViewError,
    compare_views,
    submit,
    witness_key,
    witness_log,
)
from raretrace.store.db import make_engine
from tests.chain_fixtures import ORE_LOT, mine_and_separator, new_registry, snapshot
from tests.test_cli import Cli


def _member(url: str, origin: str) -> Registry:
    return Registry.init(make_engine(url), origin)


def _extract(chain: ScriptedChain, name: str) -> None:
    chain.record(
        "US-MINE",
        "extract",
        event_id=namespaced("event", "US-MINE", f"extract-{name}"),
        deposit="Mountain Pass",
        outputs=[lot(namespaced("lot", "US-MINE", name), "ore", 10.0, {"Nd": 0.01})],
    )


def test_a_member_witnesses_append_only_growth_and_its_cosignature_counts(
    db_url: str, tmp_path: Path
) -> None:
    chain = mine_and_separator(db_url)
    log = chain.registry
    member = _member(f"sqlite:///{tmp_path / 'member-b.db'}", "member-b.example/registry")
    log_key = RegistryLog(log).verifier_key()
    with pytest.raises(NotFoundError, match="give its verifier key"):
        witness_log(member, RegistryLog(log))
    first = witness_log(member, RegistryLog(log), log_key=log_key)
    assert first.old_size is None and first.size == log.tree_size()
    _extract(chain, "ore-2")
    second = witness_log(member, RegistryLog(log))  # the key is remembered
    assert second.old_size == first.size and second.size == first.size + 1
    add_witness(log, witness_key(member))
    assert submit(log, second) == ["member-b.example/registry"]
    assert latest_checkpoint(log).endswith(second.cosignature + "\n")
    # A certificate issued now carries the member's cosignature; a verifier requiring one accepts it.
    presentation = issue(log, lots=[ORE_LOT]).to_dict()
    trusted = TrustedKeys.from_dict(trusted_keys(log))
    assert verify_certificate(presentation, trusted, witness_threshold=1).ok
    assert not verify_certificate(presentation, trusted, witness_threshold=2).ok


def _fork(tmp_path: Path) -> tuple[ScriptedChain, ScriptedChain]:
    """The same log copied at one size, then grown differently: what a cheating log shows two members."""
    path = tmp_path / "log.db"
    chain = ScriptedChain(new_registry(f"sqlite:///{path}"))
    chain.add_facility("US-MINE", country="US", stages=["mining"])
    _extract(chain, "ore-1")
    copy = tmp_path / "log-fork.db"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # WAL included
    fork = ScriptedChain(Registry(make_engine(f"sqlite:///{copy}")), time=chain.time, signers=chain.signers)
    return chain, fork


def test_rollback_and_fork_are_refused(tmp_path: Path) -> None:
    honest, fork = _fork(tmp_path)
    member = _member(f"sqlite:///{tmp_path / 'b.db'}", "member-b.example/registry")
    key = RegistryLog(honest.registry).verifier_key()
    witness_log(member, RegistryLog(honest.registry), log_key=key)
    _extract(honest, "ore-honest")
    witness_log(member, RegistryLog(honest.registry))
    before = snapshot(member)
    with pytest.raises(ProofError, match="rolled back"):
        witness_log(member, RegistryLog(fork.registry))  # the fork is still at the old size
    _extract(fork, "ore-forked")  # same size as the honest log, another root
    with pytest.raises(SplitViewError, match="two different trees of size"):
        witness_log(member, RegistryLog(fork.registry))
    _extract(fork, "ore-forked-2")  # larger, but not an extension of what the member cosigned
    with pytest.raises(SplitViewError, match="does not extend"):
        witness_log(member, RegistryLog(fork.registry))
    assert snapshot(member) == before  # a refused checkpoint is not remembered
    other_key = RegistryLog(
        _member(f"sqlite:///{tmp_path / 'c.db'}", "registry.other.example/log")
    ).verifier_key()
    with pytest.raises(ValidationError, match="the key is for"):
        witness_log(
            _member(f"sqlite:///{tmp_path / 'd.db'}", "d.example/r"),
            RegistryLog(honest.registry),
            log_key=other_key,
        )


def test_two_witnesses_shown_different_trees_reveal_a_split_view(tmp_path: Path) -> None:
    honest, fork = _fork(tmp_path)
    _extract(honest, "ore-honest")
    _extract(fork, "ore-forked")
    key = RegistryLog(honest.registry).verifier_key()
    b = _member(f"sqlite:///{tmp_path / 'b.db'}", "member-b.example/registry")
    c = _member(f"sqlite:///{tmp_path / 'c.db'}", "member-c.example/registry")
    seen_by_b = witness_log(b, RegistryLog(honest.registry), log_key=key).note
    seen_by_c = witness_log(c, RegistryLog(fork.registry), log_key=key).note
    conflicts = compare_views([seen_by_b, seen_by_c], key)
    assert len(conflicts) == 1 and conflicts[0].size == honest.registry.tree_size()
    signers = sorted(name for root in conflicts[0].roots for name in root.signed_by)
    assert "member-b.example/registry" in signers and "member-c.example/registry" in signers
    assert compare_views([seen_by_b, latest_checkpoint(honest.registry)], key) == []
    lines = seen_by_b.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim another size
    with pytest.raises(ProofError, match="not signed by the log"):
        compare_views(["\n".join(lines)], key)


def test_cli_witness(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    honest, fork = _fork(tmp_path)
    member_db = f"sqlite:///{tmp_path / 'b.db'}"
    _member(member_db, "member-b.example/registry")
    cli = Cli(tmp_path, capsysbinary, member_db)
    key = RegistryLog(honest.registry).verifier_key()
    log_db = str(tmp_path / "log.db")
    code, out, err = cli("witness", log_db, "--log-key", key)
    assert code == 0 and "witnessed" in err, err  # what happened on stderr; stdout is the note alone
    assert compare_views([out.decode()], key) == []  # which verifies as printed
    _extract(fork, "ore-forked")
    _extract(honest, "ore-honest")
    (tmp_path / "b.txt").write_text(cli.json("witness", log_db)["note"])
    code, _, err = cli("witness", str(tmp_path / "log-fork.db"))
    assert code == 6 and "split view" in err
    (tmp_path / "c.txt").write_text(latest_checkpoint(fork.registry))
    code, out, _ = cli(
        "witness-compare", str(tmp_path / "b.txt"), str(tmp_path / "c.txt"), "--log-key", key, db=False
    )
    assert code == 6 and b"split view" in out
