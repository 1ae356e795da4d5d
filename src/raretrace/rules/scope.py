"""When a regime or rule applies: date windows and the kind of item it covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from raretrace.rules.fields import RegimeFields
from raretrace.rules.subject import Subject


@dataclass(frozen=True)
class DateWindow:
    """Both ends inclusive, as regulations state them ("from 2027-01-01", "until 2026-11-10")."""

    start: date | None = None
    end: date | None = None

    @classmethod
    def read(
        cls, fields: RegimeFields, start: str = "effective_from", end: str = "effective_until"
    ) -> DateWindow:
        window = cls(fields.date(start, None), fields.date(end, None))
        if window.start and window.end and window.end < window.start:
            raise fields.error(end, f"ends ({window.end}) before it starts ({window.start})")
        return window

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        if self.start and self.end:
            return f"from {self.start} to {self.end}"
        if self.start:
            return f"from {self.start}"
        return f"until {self.end}" if self.end else "always"


@dataclass(frozen=True)
class Suspension:
    window: DateWindow
    source: str
    rules: tuple[str, ...] = ()  # empty: the whole regime

    @classmethod
    def read(cls, fields: RegimeFields) -> Suspension:
        window = DateWindow.read(fields, "from", "until")
        if window.start is None or window.end is None:
            raise fields.error("until", "a suspension needs both 'from' and 'until'")
        out = cls(window, fields.text("source"), fields.strings("rules", ()))
        fields.done()
        return out

    def covers(self, rule: str, day: date) -> bool:
        return self.window.contains(day) and (not self.rules or rule in self.rules)


@dataclass(frozen=True)
class Scope:
    """Which items a regime or rule covers; every condition given must hold."""

    forms: tuple[str, ...] = ()
    made_in: tuple[str, ...] = ()
    made_outside: tuple[str, ...] = ()
    held_in: tuple[str, ...] = ()
    contains_any: tuple[str, ...] = ()
    stage_performed: tuple[str, ...] = ()

    @classmethod
    def read(cls, fields: RegimeFields | None) -> Scope:
        if fields is None:
            return cls()
        scope = cls(
            forms=fields.forms("forms", ()),
            made_in=fields.countries("made_in", ()),
            made_outside=fields.countries("made_outside", ()),
            held_in=fields.countries("held_in", ()),
            contains_any=fields.elements("contains_any", ()),
            stage_performed=fields.stages("stage_performed", ()),
        )
        fields.done()
        return scope

    def mismatch(self, subject: Subject) -> str | None:
        """Why the subject is not covered, or None when it is."""
        if self.forms and not subject.forms & set(self.forms):
            return f"covers {', '.join(self.forms)}; this is {', '.join(sorted(subject.forms))}"
        if self.made_in and not subject.made_in & set(self.made_in):
            return (
                f"covers items made in {', '.join(self.made_in)}; this was made in {_places(subject.made_in)}"
            )
        if self.made_outside and subject.made_in and subject.made_in <= set(self.made_outside):
            where = _places(subject.made_in)
            return f"covers items made outside {', '.join(self.made_outside)}; this was made in {where}"
        if self.held_in and not subject.held_in & set(self.held_in):
            return (
                f"covers items held in {', '.join(self.held_in)}; this is held in {_places(subject.held_in)}"
            )
        if self.contains_any and not any(subject.element_kg.get(e, 0) > 0 for e in self.contains_any):
            return f"covers items containing {', '.join(self.contains_any)}; this contains none"
        if self.stage_performed and not any(subject.performed(s) for s in self.stage_performed):
            return f"covers material that went through {' or '.join(self.stage_performed)}; this did not"
        return None


def _places(countries: frozenset[str]) -> str:
    return ", ".join(sorted(countries)) or "an unknown country"
