"""The plain types a scenario is made of: months, supply lines and demand lines.

Kept apart from ``raretrace.world.scenario`` (which solves scenarios) so that ``raretrace.world.demand``
can build demand lines from the published tables without importing the solver, and the solver can import
``demand`` at module level: no import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from raretrace.errors import ValidationError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Commodities a line may name besides the elements (the units of the capacity table).
COMMODITIES = {"ndpr": "NdPr", "ndfeb": "NdFeB"}


def month_index(text: str, where: str = "month") -> int:
    """Months since year 0 ("2026-01" -> 24312); raises naming ``where`` on a malformed month."""
    match = _MONTH.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(f"must be a month YYYY-MM, not {text!r}", field=where)
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class SupplyLine:
    country: str
    stage: str
    element: str
    t_per_month: float
    first: str | None = None  # first month the line delivers (None: from the start)
    last: str | None = None  # last month the line delivers (None: to the end)

    def active(self, month: int) -> bool:
        return (self.first is None or month >= month_index(self.first)) and (
            self.last is None or month <= month_index(self.last)
        )


@dataclass(frozen=True)
class DemandLine:
    segment: str
    country: str
    element: str
    t_per_month: float
    source: str | None = None  # where the figure comes from (a world row's source, or the file's own note)
