"""What every CLI module shares: consoles, the --db/--json options, the registry context, JSON output."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, ConsoleDimensions

if TYPE_CHECKING:  # imported when a command runs: `raretrace --help` stays quick
    from raretrace.ledger.registry import Registry

#: Width of stdout when it is not a terminal (a pipe, a file): wide enough that nothing is wrapped.
PIPED_WIDTH = 100_000


class OutConsole(Console):
    """stdout: as wide as the terminal on a terminal, and never wrapped when piped or redirected, so
    ``raretrace … > file`` saves whole lines (a signed note wrapped at 80 columns no longer verifies)."""

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(PIPED_WIDTH, 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


# emoji=False: a URN such as urn:x:y must not turn into an emoji
err_console = Console(stderr=True, emoji=False)
out_console = OutConsole(emoji=False)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or database URL (default ./raretrace.db)",
        envvar="RARETRACE_DB",
    ),
]
RegistryKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-key",
        help="PEM file of the registry's private key, for a registry whose database keeps only the "
        "public key (`init` with this option creates one)",
        envvar="RARETRACE_REGISTRY_KEY",
        dir_okay=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


class Context:
    """What the top-level options leave for the sub-commands."""

    def __init__(
        self, db: str | None, registry_key: Path | None = None, *, key_from_env: bool = False
    ) -> None:
        self.db = db
        self.registry_key = registry_key
        # $RARETRACE_REGISTRY_KEY is a default for registries that need a key file: the registry reads it
        # itself when it must; only a --registry-key given on the command line is refused by a registry
        # whose database holds its own key
        self.key_from_env = key_from_env

    def registry(self) -> Registry:
        from raretrace.ledger.registry import Registry
        from raretrace.store.db import make_engine

        key_file = None if self.key_from_env else self.registry_key
        return Registry(make_engine(self.db, must_exist=True), key_file=key_file)


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def json_text(value: object) -> str:
    """The one JSON rendering of the CLI: keys sorted, so the same registry gives the same bytes
    whatever Python's hash seed; never wrapped (it does not go through the console). ``value`` is what
    ``json.dumps`` writes: JSON values (a typed answer goes through ``render.jsonable`` first, or is
    printed by ``answer_text``: the same bytes, from ``json_ready``, for a trace's thousands of rows)."""
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def emit_json(value: object) -> None:
    sys.stdout.write(json_text(value))


#: where orjson may write a float otherwise than ``repr``: with an exponent (a digit, "e", a digit or a
#: minus: 1e-7, 1e16; orjson writes no "E" and no "+"; the literal "e" first makes the search several
#: times faster than a class would) or below 1e-4 without one (0.00001)
_EXPONENT = re.compile(rb"e(?<=[0-9]e)[-0-9]")
_TINY = b"0.0000"
#: such a float in orjson's indented text: every number of an array or an object is alone at the end of
#: its line, after a space (a string cannot end a line: a newline in it is written escaped)
_FLOAT_TO_REPR = re.compile(
    rb" (-?(?:0\.0000[0-9]*|[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+))(?=,?$)", re.MULTILINE
)


def _repr_float(number: re.Match[bytes]) -> bytes:
    return b" " + repr(float(number[1])).encode("ascii")


def answer_text(answer: object) -> str:
    """``json_text(jsonable(answer))``, the CLI's JSON of a typed answer (a trace: thousands of edges),
    written by orjson from ``json_ready(answer)``, which leaves a trace's edges and lot summaries as they
    are, where ``jsonable`` copies each one member by member and ``json.dumps`` writes it in Python
    (``indent`` takes it off its C encoder): a fifth to a tenth of the time (docs/architecture.md).

    orjson writes what ``json.dumps(indent=2, sort_keys=True)`` does but for two things, looked for in its
    bytes. A float that ``repr`` writes with an exponent (below 1e-4 or from 1e16 in magnitude: ``1e-05``,
    ``1.5e+16``) orjson writes as ``0.00001`` or ``1.5e16``: such numbers are rewritten by ``repr`` (a
    path's share can be that small). Characters outside printable ASCII (``json.dumps`` escapes them,
    DEL too; orjson writes UTF-8): the bytes are set aside for ``json_text(jsonable(answer))``, as
    is what orjson cannot write (an integer beyond 64 bits). A float that is not finite among the
    edges and summaries is written as null where ``jsonable`` refuses it, as for the API
    (``render.jsonable.json_ready``): the masses are checked finite when recorded."""
    import orjson  # imported when a command runs, as the registry

    from raretrace.render.jsonable import json_ready, jsonable

    # indented by two, keys sorted; every dataclass (one ``json_ready`` left as it is: a trace's paths),
    # date or subclass of a builtin handed to ``jsonable`` (``default``): a dataclass's members sorted too
    as_cli = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
    as_cli |= orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
    try:
        body = orjson.dumps(json_ready(answer), default=jsonable, option=as_cli)
    except TypeError:  # orjson.JSONEncodeError
        return json_text(jsonable(answer))
    if not body.isascii() or b"\x7f" in body or body[:1] not in (b"{", b"["):
        return json_text(jsonable(answer))
    if _TINY in body or _EXPONENT.search(body):
        body = _FLOAT_TO_REPR.sub(_repr_float, body)
    return body.decode("ascii") + "\n"


def emit_answer(answer: object) -> None:
    """A typed answer as the CLI's JSON (``answer_text``)."""
    sys.stdout.write(answer_text(answer))


def emit_text(text: str) -> None:
    """Machine-readable text (a signed note, a key line) exactly as given: no markup, no wrapping."""
    sys.stdout.write(text)
    sys.stdout.flush()
