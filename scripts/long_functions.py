"""Find the functions in src/ longer than a screen (60 lines), longest first.

Issue #18 counted 27 functions over 60 lines as a problem; this script found 32 at commit b0759df
(37 counting commands' option lists), 7 after the split and 4 once the fingerprint functions were
split too; tests/test_function_length.py holds a ceiling that only goes down. How a function is measured:

- from its ``def`` line (decorators excluded) to its last line, blank lines and comments included:
  what a reader has to keep in view;
- a Typer command by its body only, from the first statement after the docstring: its signature is a
  list of option declarations, each read on its own, and its docstring is the command's help; counting
  them would push a command to split its options from their help. A command is a function decorated
  ``@<app>.command(...)`` or ``@<app>.callback(...)``, one taking a parameter annotated with a
  ``typer.`` type, or a public module-level function of ``cli/`` (whose modules hold commands and keep
  their helpers private);
- a nested function is measured on its own, and also counts in the function around it.

Usage: python3 scripts/long_functions.py [--limit N]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parents[1] / "src" / "raretrace"
LIMIT = 60

#: Why each function still over the limit stays long (``path:qualified.name``, below src/raretrace).
REASONS: dict[str, str] = {
    "store/migrations/versions/0001_initial_schema.py:upgrade": (
        "a migration is the schema as it was on that day, one table after another; it is never edited"
    ),
    "log/merkle.py:verify_consistency": (
        "RFC 9162 §2.1.4.2's verification algorithm, step for step, so it reads beside the RFC"
    ),
    "ledger/lineage.py:trace_up_on": (
        "the trace's hot loop, measured as one function (docs/lineage-performance.md); its file is being "
        "changed by issue 18 part A: split there"
    ),
}


class Long(NamedTuple):
    where: str  # path:qualified.name
    lines: int


def _is_command(node: ast.FunctionDef | ast.AsyncFunctionDef, in_cli: bool) -> bool:
    if in_cli and not node.name.startswith("_"):
        return True
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in {"command", "callback"}:
            return True
    arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    return any(a.annotation is not None and "typer." in ast.unparse(a.annotation) for a in arguments)


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef, in_cli: bool = False) -> int:
    end = node.end_lineno or node.lineno
    if not _is_command(node, in_cli):
        return end - node.lineno + 1
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring is the command's help text
    return end - body[0].lineno + 1


def _walk(node: ast.AST, prefix: str) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            found.append((name, child))
            found.extend(_walk(child, f"{name}."))
        elif isinstance(child, ast.ClassDef):
            found.extend(_walk(child, f"{prefix}{child.name}."))
        else:
            found.extend(_walk(child, prefix))
    return found


def long_functions(root: Path = SRC, limit: int = LIMIT) -> list[Long]:
    """Every function of the package at ``root`` longer than ``limit`` lines, longest first."""
    found: list[Long] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_cli = path.parent.name == "cli"
        for name, node in _walk(tree, ""):
            lines = _length(node, in_cli and "." not in name)
            if lines > limit:
                found.append(Long(f"{path.relative_to(root)}:{name}", lines))
    return sorted(found, key=lambda f: (-f.lines, f.where))


if __name__ == "__main__":
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else LIMIT
    found = long_functions(limit=limit)
    for f in found:
        reason = REASONS.get(f.where)
        print(f"{f.lines:5d}  {f.where}" + (f"  ({reason})" if reason else ""))
    print(f"{len(found)} functions over {limit} lines")
