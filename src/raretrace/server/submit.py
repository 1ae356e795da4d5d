"""Submitting signed events through the API: who may submit each envelope, then the registry's append.

The envelope bytes go to the registry exactly as received (the log hashes those bytes). Each
envelope is parsed once here to learn its kind and acting facility, so a participant cannot slip an
event for another participant's facility into a batch; the registry then checks everything else
(signatures, custody, mass balance …) and writes all or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from raretrace.crypto import b64
from raretrace.custody.events import Event
from raretrace.errors import RaretraceError, UnavailableError, ValidationError
from raretrace.ledger.judging import Parsed
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import AppendResult, Registry
from raretrace.server.access import may_submit, require
from raretrace.server.refusals import told
from raretrace.store.reading import reading


def admission(principal: Principal) -> Callable[[int, Event], None]:
    """The check of one parsed event of a submission (``Registry.append``'s ``admit``): 401/403 naming
    the envelope unless the caller may submit it. The caller's role is checked here, once."""
    require(principal, "operator", "secretariat", action="submitting events")

    def admit(index: int, event: Event) -> None:
        may_submit(principal, event.kind, event.facility, f"envelope {index}")

    return admit


def authorize(principal: Principal, envelopes: Sequence[bytes]) -> list[Parsed]:
    """The envelopes parsed, or 401/403 (naming the envelope) unless the caller may submit every one;
    ``Registry.append_parsed`` appends what this returns without parsing it again."""
    return Registry.parse(envelopes, admit=admission(principal))


def submit(registry: Registry, principal: Principal, envelopes: Sequence[bytes]) -> AppendResult:
    """``authorize`` and append, parsing each envelope once: the registry hands each parsed event to
    the permission check before it reads or writes anything. A refusal says only what the caller may
    see (``refusals``)."""
    try:
        return registry.append(envelopes, admit=admission(principal))
    except RaretraceError as e:
        raise refusal(registry, principal, e) from e


def refusal(registry: Registry, principal: Principal, error: RaretraceError) -> RaretraceError:
    """``refusals.told`` on a read connection of the registry. A database failure hides nothing, and
    is told as it is: reading would fail the same way."""
    if isinstance(error, UnavailableError):
        return error
    with reading(registry.engine) as conn:
        return told(registry.store, conn, principal, error)


def split_batch(body: bytes, content_type: str, limit: int) -> list[bytes]:
    """The envelopes of a batch body: JSON Lines (one envelope per line, bytes kept) or
    ``{"envelopes": [base64 of each envelope's bytes]}``."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
        envelopes = [line.strip() for line in body.splitlines() if line.strip()]
    elif media in ("application/json", ""):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValidationError(f"the body is not JSON: {e}", field="body") from e
        if not isinstance(data, dict) or not isinstance(data.get("envelopes"), list):
            raise ValidationError(
                'a JSON batch is {"envelopes": [base64 of each envelope]}', field="envelopes"
            )
        envelopes = []
        for i, item in enumerate(data["envelopes"]):
            if not isinstance(item, str):
                raise ValidationError("must be the base64 of an envelope's bytes", field=f"envelopes[{i}]")
            try:
                envelopes.append(b64.strict(item))
            except ValueError as e:  # binascii.Error, or a character beyond ASCII
                raise ValidationError(f"not base64: {e}", field=f"envelopes[{i}]") from e
    else:
        raise ValidationError(
            f"send application/x-ndjson or application/json, not {media}", field="content-type"
        )
    if not envelopes:
        raise ValidationError("nothing to record: the batch is empty", field="envelopes")
    if len(envelopes) > limit:
        raise ValidationError(f"at most {limit} envelopes per batch, got {len(envelopes)}", field="envelopes")
    return envelopes
