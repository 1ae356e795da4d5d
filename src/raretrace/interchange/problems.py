"""What is wrong with an import file: every problem found, each naming file, row, column and reason.

A user fixing a spreadsheet wants the whole list at once, not one error per attempt, so converters
record problems and go on; the importer refuses the file if any were found. The list is capped so a
file that is wrong on every one of its million rows still gives a readable answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from raretrace.errors import RaretraceError, ValidationError

DEFAULT_MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be recorded. ``row`` counts as the user sees it (header is row 1 of a
    spreadsheet; in EPCIS it is the event's position in ``eventList``); ``column`` is a column header
    or, for EPCIS, the JSON member."""

    file: str
    row: int | None
    column: str | None
    reason: str
    exit_code: int = ValidationError.exit_code
    row_label: str = "row"

    def where(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"{self.row_label} {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            self.row_label: self.row,
            "column": self.column,
            "reason": self.reason,
        }


@dataclass
class ProblemLog:
    """Problems of one file, kept up to ``limit``; ``total`` counts them all."""

    file: str
    limit: int = DEFAULT_MAX_PROBLEMS
    row_label: str = "row"
    problems: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, row: int | None, column: str | None, reason: str, *, exit_code: int = 2) -> None:
        self.total += 1
        if len(self.problems) < self.limit:
            self.problems.append(Problem(self.file, row, column, reason, exit_code, self.row_label))

    def error(self, row: int | None, error: RaretraceError, columns: dict[str, str] | None = None) -> None:
        """Record a library error met on a row, naming the column its field came from."""
        column = (columns or {}).get(error.field or "", error.field)
        self.add(row, column, error.message, exit_code=error.exit_code)

    @property
    def full(self) -> bool:
        return self.total >= self.limit

    def raise_if_any(self) -> None:
        if self.total:
            ordered = sorted(self.problems, key=lambda p: -1 if p.row is None else p.row)
            raise ImportRejectedError(ordered, self.total)


class ImportRejectedError(ValidationError):
    """A file refused as a whole: nothing was written. Carries every problem found (up to the cap)."""

    def __init__(
        self,
        problems: Sequence[Problem] = (),
        total: int | None = None,
        *,
        message: str | None = None,
        field: str | None = None,
        context: str | None = None,
    ) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        shown = "\n".join(f"  {p}" for p in self.problems)
        more = self.total - len(self.problems)
        text = message or (
            f"{self.total} problem(s) found; nothing was written:\n{shown}"
            + (f"\n  … and {more} more (raise --max-errors to see them)" if more > 0 else "")
        )
        super().__init__(text, field=field, context=context)
        # the most specific cause decides the exit code: a custody or mass-balance refusal (4)
        # says more than a malformed cell (2)
        self.exit_code = max((p.exit_code for p in self.problems), default=ValidationError.exit_code)

    def within(self, context: str) -> ImportRejectedError:
        """Already says which file and rows; a wider context goes in front of its message."""
        wrapped = ImportRejectedError(self.problems, self.total, message=f"{context}: {self.message}")
        wrapped.__cause__ = self
        return wrapped

    def to_dict(self) -> dict[str, object]:
        return {"ok": False, "total": self.total, "problems": [p.to_dict() for p in self.problems]}
