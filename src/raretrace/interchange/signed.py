"""Rows that arrive already signed: the envelope decides, and the readable columns must agree with it.

An export writes each event's signed envelope beside its readable fields so that another registry can
import the event under its original signature. A person may edit the readable cells without being able
to re-sign them; accepting the envelope while showing different cells would mislead, so the event the
cells describe must equal the one that was signed.
"""

from __future__ import annotations

import dataclasses

from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.keys import b64decode_strict
from raretrace.custody.events import Event, parse_event
from raretrace.errors import RaretraceError, ValidationError


def _first_difference(a: Event, b: Event) -> str:
    if type(a) is not type(b):
        return "kind"
    for item in dataclasses.fields(a):
        if getattr(a, item.name) != getattr(b, item.name):
            return item.name
    return "event"


def signed_envelope(encoded: str, described: dict[str, object]) -> bytes:
    """The envelope bytes from their base64, once they are known to sign the event ``described``."""
    raw = b64decode_strict(encoded.strip(), field="envelope")
    try:
        statement = parse_envelope(raw).statement()
        signed = parse_event(statement["predicate"])
    except RaretraceError as e:
        raise ValidationError(f"not a signed raretrace event: {e}", field="envelope") from e
    mine = parse_event(described)
    if signed != mine:
        name = _first_difference(signed, mine)
        raise ValidationError(
            f"the readable fields and the signed envelope disagree on {name!r}; an edited row cannot "
            "keep its old signature: clear the envelope to have the row signed again with --key",
            field="envelope",
        )
    return raw
