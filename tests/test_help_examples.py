"""Every command's --help ends with a worked example, so a user never has to guess the syntax."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from raretrace.cli.main import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, command in sorted(getattr(group, "commands", {}).items()):
        path = (*prefix, name)
        if getattr(command, "commands", None):
            out.extend(_commands(command, path))
        else:
            out.append(path)
    return out


def test_every_command_help_shows_an_example() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 30  # the walk found the whole tree, sub-groups included
    runner = CliRunner()
    missing = []
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        if "Example: raretrace" not in result.output:
            missing.append(" ".join(path))
    assert not missing, f"commands whose --help has no 'Example: raretrace ...' line: {missing}"
