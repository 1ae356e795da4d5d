"""RFC 8785 (JCS) canonical JSON: the single serializer whose bytes are ever signed or hashed."""

from __future__ import annotations

from typing import Any

import rfc8785

from raretrace.errors import ValidationError


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; floats that JSON cannot carry (NaN, inf) are refused."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e
