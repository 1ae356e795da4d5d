"""One error family for the whole package.

Every failure a user can cause is a ``RaretraceError`` carrying a human message; the CLI and the
API have a single handler that prints that message, so messages must name the field or row and the
reason. Foreign exceptions are wrapped with ``raise ... from e`` so the cause stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Confidential:
    """What a refusal says about a lot or event that may belong to another participant.

    A server tells each caller only what it may see (docs/security.md): a caller who may not see
    ``subject`` gets ``unseen`` — word for word the refusal for a ``subject`` that does not exist —
    and a caller who may see it but is not one of ``parties`` (the facilities the message names) gets
    ``discreet``. The full message stays for the secretariat, auditors and the parties themselves."""

    kind: str  # "lot" or "event"
    subject: str
    unseen: str
    parties: frozenset[str] = frozenset()
    discreet: str | None = None


class RaretraceError(Exception):
    """Base of every error raised on purpose by raretrace."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        context: str | None = None,
        confidential: Confidential | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.context = context  # which item of a batch or file, e.g. "envelope 3 (event ev-17)"
        self.confidential = confidential
        super().__init__(": ".join([part for part in (context, field) if part] + [message]))

    def within(self, context: str) -> RaretraceError:
        """The same error, said of one item of a batch or file (outermost context first)."""
        inner = f"{context}, {self.context}" if self.context else context
        wrapped = type(self)(self.message, field=self.field, context=inner, confidential=self.confidential)
        wrapped.__cause__ = self
        return wrapped


class ValidationError(RaretraceError):
    """Input that is malformed or breaks a domain invariant (names the field)."""

    exit_code = 2


class SignatureError(RaretraceError):
    """A signature that does not verify, or a key that is unknown, revoked or out of its validity."""

    exit_code = 3


class AuthorizationError(RaretraceError):
    """A signer acting for a facility or action it is not authorized for."""

    exit_code = 3


class CustodyError(RaretraceError):
    """Spending a lot that is not held by the acting facility, or more mass than remains."""

    exit_code = 4


class MassBalanceError(RaretraceError):
    """Outputs that contain more of an element than the inputs (beyond tolerance)."""

    exit_code = 4


class DuplicateError(RaretraceError):
    """An event, lot or facility that already exists."""

    exit_code = 4


class NotFoundError(RaretraceError):
    """A lot, facility, event or log entry that does not exist."""

    exit_code = 5


class ProofError(RaretraceError):
    """A Merkle proof, checkpoint or note that does not verify."""

    exit_code = 6


class StoreError(RaretraceError):
    """The database cannot be opened, is not initialized, or is at the wrong schema version."""

    exit_code = 7


class UnavailableError(StoreError):
    """The database failed under a request (down, restarting, the connection lost): the same request
    may succeed in a moment. The message says whether a write was made, was not, or may have been."""


def too_deep(field: str | None = None) -> ValidationError:
    """The refusal of JSON nested more deeply than Python's reader goes (it raises RecursionError)."""
    return ValidationError(
        "the JSON is nested too deeply to read (a few hundred levels at most)", field=field
    )


#: What each exit code of the ``raretrace`` command means (shown by ``raretrace --help`` and in
#: docs/cli.md; a test checks every error class's code is here). Usage errors (a missing or bad
#: option) exit 2, like invalid input.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "any other raretrace error",
    2: "invalid input or usage: a malformed file, field or option (ValidationError)",
    3: "a signature that does not verify, or a signer not authorized (SignatureError, AuthorizationError)",
    4: "refused by the registry: custody, mass balance or a duplicate (CustodyError, MassBalanceError, "
    "DuplicateError)",
    5: "not found: a lot, facility, event, entry or file (NotFoundError)",
    6: "a proof, checkpoint, note or certificate that does not verify; a split view (ProofError)",
    7: "the database cannot be opened, holds no registry, has an older schema (StoreError) or failed "
    "under the command (UnavailableError)",
    8: "a check that ran and found a fault: a log audit with a discrepancy, a certificate that does not "
    "verify (verify, log audit); a peer that refused a confirmation",
    9: "check --fail-on: some verdict is at or worse than the level given",
    70: "an internal error (a bug): one line on stderr, never a traceback; please report it",
    130: "interrupted (Ctrl-C)",
}
