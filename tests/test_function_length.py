"""Issue #18: functions short enough to read. ``scripts/long_functions.py`` finds the functions over 60
lines (how it measures is in its docstring); their number has a ceiling that only goes down, and each one
left says why it stays long.

32 were over the limit, so measured, before the split (commit b0759df; 37 if commands' option lists
are counted too); 4 remain."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from tests.scripts_loader import load_script

#: Lower it when a change splits another: 7 on #18's branch, 10 after the merge with #19 and #22, 4 once
#: the fingerprint functions were split into named steps, 3 once certificates.issue read its facts in a
#: step of its own.
CEILING = 3


def _script() -> ModuleType:
    return load_script("long_functions")


def test_long_functions_stay_under_their_ceiling() -> None:
    found = [f.where for f in _script().long_functions()]
    assert len(found) <= CEILING, f"{len(found)} functions over 60 lines, ceiling {CEILING}: {found}"


def test_every_long_function_says_why_and_no_reason_outlives_its_function() -> None:
    script = _script()
    found = {f.where for f in script.long_functions()}
    assert found - set(script.REASONS) == set(), "give each long function its reason in REASONS, or split it"
    assert set(script.REASONS) - found == set(), "a function in REASONS is no longer long: remove its reason"


def test_the_measure_counts_what_a_reader_sees_and_a_commands_body(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "cli").mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    half = "".join(f"    x{i} = {i}\n" for i in range(30))
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    (package / "plain.py").write_text(
        f"def long():\n{body}\n\ndef short():\n    return 1\n\nclass C:\n    def method(self):\n{indented}"
    )
    options = "".join(f"    o{i}: int = typer.Option({i}),\n" for i in range(30))
    (package / "cli" / "group.py").write_text(
        f"import typer\n\ndef command(\n{options}) -> None:\n    '''Help.'''\n{half}"
        f"\n\ndef _helper(\n{options}) -> None:\n{half}"
    )
    found = {f.where: f.lines for f in _script().long_functions(package)}
    # def line + 60 body lines; a method likewise; a command's 30 body lines are under the limit however
    # many options it declares, a private helper of the same shape is not a command
    assert found == {"plain.py:long": 61, "plain.py:C.method": 61, "cli/group.py:_helper": 62}
