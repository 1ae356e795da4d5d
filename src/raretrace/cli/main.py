"""The ``raretrace`` command line: parse arguments, call the library, render the answer.

No command holds logic of its own. Every failure a user can cause surfaces as a ``RaretraceError``
and is printed by the single handler in ``main`` as ``error: <field>: <reason>`` with a non-zero
exit code; ``--json`` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.certificates import register as register_certificate_commands
from raretrace.cli.common import (
    Context,
    DbOption,
    RegistryKeyOption,
    emit_json,
    err_console,
)
from raretrace.cli.compliance import register as register_compliance_commands
from raretrace.cli.consortium import register as register_consortium_commands
from raretrace.cli.demo import register as register_demo_commands
from raretrace.cli.events import register as register_events_commands
from raretrace.cli.facilities import register as register_facilities_commands
from raretrace.cli.fingerprint import register as register_fingerprint_commands
from raretrace.cli.interchange import register as register_interchange_commands
from raretrace.cli.log import register as register_log_commands
from raretrace.cli.lots import lot_app
from raretrace.cli.lots import register as register_lots_commands
from raretrace.cli.search import register as register_search_commands
from raretrace.cli.serve import register as register_serve_commands
from raretrace.cli.setup import register as register_setup_commands
from raretrace.cli.witness import register as register_witness_commands
from raretrace.cli.world import register as register_world_commands
from raretrace.errors import EXIT_CODES, RaretraceError, ValidationError, too_deep
from raretrace.store.db import as_unavailable

app = typer.Typer(
    help="raretrace: verifiable rare-earth supply chains from mine to magnet.\n\n"
    "Example: raretrace --db registry.db init --origin registry.example.org/rare-earths",
    epilog="Exit codes:\n\n" + "\n\n".join(f"{code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion and --show-completion for bash, zsh, fish, PowerShell
)


def _print_version(value: bool) -> None:
    if value:
        from raretrace import __version__

        sys.stdout.write(f"raretrace {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: DbOption = None,
    registry_key: RegistryKeyOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """raretrace: verifiable rare-earth supply chains from mine to magnet."""
    source = ctx.get_parameter_source("registry_key")  # typer's own click: compare by name
    from_env = source is not None and source.name == "ENVIRONMENT"
    ctx.obj = Context(db, registry_key, key_from_env=from_env)


register_setup_commands(app)
register_events_commands(app)
register_facilities_commands(app)
register_lots_commands(app)
register_log_commands(app)
register_compliance_commands(app)
register_demo_commands(app)
register_certificate_commands(app)
register_fingerprint_commands(app)
register_world_commands(app)
register_interchange_commands(app)
register_serve_commands(app)
register_consortium_commands(app)
register_witness_commands(app)
register_search_commands(app, lot_app)


def error_object(error: RaretraceError) -> dict[str, object]:
    """An error as ``--json`` prints it: what a program needs to react without parsing prose."""
    return {
        "kind": type(error).__name__,
        "message": error.message,
        "field": error.field,
        "context": error.context,
        "exit_code": error.exit_code,
    }


def usage_error_object(error: typer.TyperException) -> dict[str, object]:
    """A usage error the command line parser found (unknown option, missing argument, bad value) in
    ``error_object``'s shape: ``kind`` UsageError, ``field`` the parameter when the parser names one,
    and its exit code (2, as for invalid input)."""
    param = getattr(error, "param", None)
    return {
        "kind": "UsageError",
        "message": _usage_message(error),
        "field": getattr(param, "name", None),
        "context": None,
        "exit_code": _usage_code(error),
    }


def _usage_message(error: typer.TyperException) -> str:
    formatted = getattr(error, "format_message", None)
    return str(formatted()) if callable(formatted) else str(error)


def _usage_code(error: typer.TyperException) -> int:
    code = getattr(error, "exit_code", ValidationError.exit_code)
    return code if isinstance(code, int) else ValidationError.exit_code


def main() -> None:
    """Entry point: one handler turns every raretrace error into a message and an exit code.

    Typer runs in standalone mode, so usage errors, ``typer.Exit`` codes and Ctrl-C are its own
    business; only our errors come through here.
    """
    as_json = "--json" in sys.argv[1:]
    try:
        if as_json:  # click's own usage errors come back here, to print as the one JSON error
            code = app(prog_name="raretrace", standalone_mode=False)
            sys.exit(code if isinstance(code, int) else 0)
        app(prog_name="raretrace")  # also under `python -m raretrace`: completion and usage name it
    except RaretraceError as e:
        if as_json:  # the one JSON object a --json run promises, for the error too
            emit_json({"error": error_object(e)})
        _fail(str(e), e.exit_code)
    except typer.TyperException as e:  # only with --json: an unknown option, a missing argument
        emit_json({"error": usage_error_object(e)})
        _fail(_usage_message(e), _usage_code(e))
    except typer.Abort:  # only with --json: Ctrl-C
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except RecursionError:  # JSON nested beyond the standard reader, wherever a file was read
        _fail(str(too_deep()), ValidationError.exit_code)
    except Exception as e:  # a bug: one line and a documented code, never a traceback
        failed = as_unavailable(e)  # unless the database failed under the command: exit 7, not a bug
        if failed is not None:
            if as_json:
                emit_json({"error": error_object(failed)})
            _fail(str(failed), failed.exit_code)
        _fail(f"internal error ({type(e).__name__}: {e}); please report it", INTERNAL_ERROR)


#: The exit code of a failure that is not the input's fault (BSD sysexits EX_SOFTWARE).
INTERNAL_ERROR = 70


def _fail(message: str, code: int) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)
