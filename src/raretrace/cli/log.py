"""The transparency log: checkpoints, entries, proofs, audit, witnesses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_json,
    err_console,
    out_console,
)
from raretrace.cli.publish import register as register_publish_commands
from raretrace.render.jsonable import jsonable

log_app = typer.Typer(
    help="The transparency log: checkpoints, entries, proofs, audit, witnesses.", no_args_is_help=True
)


def log_checkpoint(ctx: typer.Context) -> None:
    """Print the latest signed checkpoint note (C2SP tlog-checkpoint), byte-exact, with cosignatures.

    Example: raretrace --db registry.db log checkpoint
    """
    from raretrace.ledger.logview import latest_checkpoint

    sys.stdout.write(latest_checkpoint(_ctx(ctx).registry()))


def log_public_key(ctx: typer.Context) -> None:
    """Print the log's verifier key in signed-note form name+hash+base64key.

    Example: raretrace --db registry.db log public-key
    """
    from raretrace.log.note import verifier_key_text

    registry = _ctx(ctx).registry()
    sys.stdout.write(verifier_key_text(registry.origin, registry.signer.public_key) + "\n")


def log_entry(ctx: typer.Context, index: Annotated[int, typer.Argument(metavar="N", min=0)]) -> None:
    """Write leaf N's stored envelope bytes to stdout, unchanged.

    Example: raretrace --db registry.db log entry 0 > entry0.json
    """
    from raretrace.ledger.logview import log_entry_bytes

    sys.stdout.buffer.write(log_entry_bytes(_ctx(ctx).registry(), index))


def log_prove(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(metavar="N", min=0)],
    size: Annotated[int | None, typer.Option(help="Tree size to prove against (default: current)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Inclusion proof of leaf N in the tree of size S.

    Example: raretrace --db registry.db log prove 3 --json
    """
    from raretrace.ledger.logview import inclusion_proof

    proof = inclusion_proof(_ctx(ctx).registry(), index, size)
    if as_json:
        emit_json(jsonable(proof))
    else:
        out_console.print(
            f"leaf {proof.leaf_index} in tree of size {proof.tree_size}: leaf hash {proof.leaf_hash}"
        )
        for i, h in enumerate(proof.proof):
            out_console.print(f"  [{i}] {h}")


def log_consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Argument(metavar="OLD", min=0)],
    new: Annotated[int, typer.Argument(metavar="NEW", min=0)],
    as_json: JsonFlag = False,
) -> None:
    """Consistency proof between tree sizes OLD and NEW.

    Example: raretrace --db registry.db log consistency 2 5 --json
    """
    from raretrace.ledger.logview import consistency_proof

    proof = consistency_proof(_ctx(ctx).registry(), old, new)
    if as_json:
        emit_json(jsonable(proof))
    else:
        out_console.print(f"consistency {proof.size1} → {proof.size2}: {len(proof.proof)} hashes")
        for i, h in enumerate(proof.proof):
            out_console.print(f"  [{i}] {h}")


def log_audit(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Recompute every leaf from the stored envelopes, re-verify signatures and the whole tree.

    Exit code 0 only if everything holds; otherwise the first discrepancy is named.
    Example: raretrace --db registry.db log audit
    """
    from raretrace.ledger.audit import audit

    result = audit(_ctx(ctx).registry())
    if as_json:
        emit_json(jsonable(result))
    elif result.ok:
        out_console.print(
            f"audit passed: {result.tree_size} leaves, {result.signatures_verified} signatures, "
            f"{result.checkpoints_verified} checkpoints verified"
        )
    else:
        err_console.print(f"audit FAILED: {result.problems[0]}")
        for extra in result.problems[1:5]:
            err_console.print(f"  also: {extra}")
    if not result.ok:
        raise typer.Exit(8)


def log_witness_add(
    ctx: typer.Context,
    verifier_key: Annotated[str, typer.Argument(help="Witness verifier key name+hash+base64 (type 0x04)")],
) -> None:
    """Trust a witness: its cosignatures on this log's checkpoints will be accepted.

    Example: raretrace --db registry.db log witness-add "witness.example.org+1a2b3c4d+BK…"
    """
    from raretrace.ledger.logview import add_witness

    name = add_witness(_ctx(ctx).registry(), verifier_key)
    out_console.print(f"witness {name} added")


def log_cosign_add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A cosigned checkpoint note (or its cosignature lines)")],
) -> None:
    """Accept witness cosignatures (C2SP tlog-cosignature) on a checkpoint of this log, verifying each.

    Example: raretrace --db registry.db log cosign-add cosigned-checkpoint.txt
    """
    from raretrace.ledger.logview import add_cosignatures

    names = add_cosignatures(_ctx(ctx).registry(), file.read_text(encoding="utf-8"))
    out_console.print(f"accepted cosignature(s) from {', '.join(names)}")


def register(app: typer.Typer) -> None:
    log_app.command("checkpoint")(log_checkpoint)
    log_app.command("public-key")(log_public_key)
    log_app.command("entry")(log_entry)
    log_app.command("prove")(log_prove)
    log_app.command("consistency")(log_consistency)
    log_app.command("audit")(log_audit)
    log_app.command("witness-add")(log_witness_add)
    log_app.command("cosign-add")(log_cosign_add)
    app.add_typer(log_app, name="log")
    register_publish_commands(log_app)
