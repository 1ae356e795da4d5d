"""Reading regime files: every value checked, every error naming the file and the field.

Regime files are written by people (an authority's lawyer, the consortium secretariat), so a typo
must be an error that says where it is, never a rule silently ignored: unknown keys are rejected too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from raretrace.elements import parse_element
from raretrace.errors import ValidationError
from raretrace.model import Form, Stage, parse_country
from raretrace.provenance import UNKNOWN

_MISSING: Any = object()
STAGES = tuple(s.value for s in Stage)
FORMS = tuple(f.value for f in Form)


class Fields:
    """A mapping from a regime file, read one checked field at a time."""

    def __init__(self, data: object, where: str, parameters: Mapping[str, Any] | None = None) -> None:
        if not isinstance(data, Mapping):
            raise ValidationError("must be a table (an object)", field=where)
        self.data = data
        self.where = where
        self.parameters = parameters or {}
        self.read: set[str] = set()

    def field(self, name: str) -> str:
        if not self.where:
            return name
        return f"{self.where} {name}" if self.where.endswith(":") else f"{self.where}.{name}"

    def error(self, name: str, message: str) -> ValidationError:
        return ValidationError(message, field=self.field(name))

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        self.read.add(name)
        if name not in self.data:
            if default is _MISSING:
                raise self.error(name, "is required")
            return default
        value = self.data[name]
        if isinstance(value, str) and value.startswith("$"):
            key = value[1:]
            if key not in self.parameters:
                raise self.error(name, f"refers to parameter {key!r}, which the regime does not define")
            return self.parameters[key]
        return value

    def text(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string")
        return value

    def number(self, name: str, default: Any = _MISSING, *, low: float = 0.0, high: float = 1.0) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.error(name, f"must be a number from {low:g} to {high:g}")
        return float(value)

    def choice(self, name: str, choices: Sequence[str], default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value not in choices:
            raise self.error(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def strings(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        value = self.raw(name, default)
        if isinstance(value, tuple):
            return value
        if not isinstance(value, list) or not value:
            raise self.error(name, "must be a non-empty list of strings")
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.startswith("$"):
                inner = self.parameters.get(item[1:])
                if not isinstance(inner, list):
                    raise self.error(f"{name}[{i}]", f"refers to list parameter {item[1:]!r}, not defined")
                out.extend(str(x) for x in inner)
            elif isinstance(item, str) and item:
                out.append(item)
            else:
                raise self.error(f"{name}[{i}]", "must be a non-empty string")
        return tuple(out)

    def elements(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        values = self.strings(name, default)
        if values == ("*",):
            return values
        try:
            return tuple(parse_element(v).value for v in values)
        except ValidationError as e:
            raise self.error(name, e.message) from e

    def stages(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        values = self.strings(name, default)
        bad = [v for v in values if v not in STAGES and v != "*"]
        if bad:
            raise self.error(name, f"{bad[0]!r} is not a stage ({', '.join(STAGES)}, or *)")
        return values

    def forms(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        values = self.strings(name, default)
        bad = [v for v in values if v not in FORMS]
        if bad:
            raise self.error(name, f"{bad[0]!r} is not a form ({', '.join(FORMS)})")
        return values

    def countries(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        values = self.strings(name, default)
        try:
            return tuple(v if v == UNKNOWN else parse_country(v, self.field(name)) for v in values)
        except ValidationError as e:
            raise self.error(name, e.message) from e

    def date(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(name, f"{value!r} is not a date (YYYY-MM-DD)")

    def table(self, name: str) -> Fields | None:
        value = self.raw(name, None)
        return None if value is None else Fields(value, self.field(name), self.parameters)

    def tables(self, name: str, *, required: bool = False) -> list[Fields]:
        value = self.raw(name, _MISSING if required else [])
        if not isinstance(value, list) or (required and not value):
            raise self.error(name, "must be a non-empty list of tables" if required else "must be a list")
        return [Fields(item, f"{self.field(name)}[{i}]", self.parameters) for i, item in enumerate(value)]

    def done(self) -> None:
        """Reject keys nobody read: in a rule file they are typos, not extensions."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise self.error(unknown[0], "is not a field this table has (a typo?)")
