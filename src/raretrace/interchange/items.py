"""What a converter hands the importer: one event per item, with where each of its fields came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: field path of an event ("outputs[1].mass_kg") -> (row, column) it was read from
Origins = dict[str, tuple[int, str]]

_LAST_SEGMENT = re.compile(r"(\[\d+\]|\.[^.\[]+)$")


@dataclass
class Item:
    """One event read from a file: unsigned (``event``) or already signed (``envelope``).

    ``secretariat`` items (facility registrations) are signed with the registry's own key, every
    other unsigned item with the submitting participant's key. ``facilities`` lists the facility ids
    the event names, with the row and column of each, so unknown ones are reported all together.
    """

    row: int
    event_id: str
    event: dict[str, object] | None = None
    envelope: bytes | None = None
    origins: Origins = field(default_factory=dict)
    secretariat: bool = False
    facilities: list[tuple[str, int, str]] = field(default_factory=list)
    #: the facility a registration row creates (which must not exist yet), with its row and column
    registers: tuple[str, int, str] | None = None

    def locate(self, field_path: str | None) -> tuple[int, str | None]:
        """The row and column an event field came from: the field itself, else its nearest parent
        (``outputs[1].composition.Nd`` falls back to ``outputs[1]``), else the item's first row."""
        path = field_path or ""
        while path:
            if path in self.origins:
                return self.origins[path]
            shorter = _LAST_SEGMENT.sub("", path)
            if shorter == path:
                break
            path = shorter
        return self.row, field_path
