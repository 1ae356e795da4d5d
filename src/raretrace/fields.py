"""The one checked reader of fields from JSON and TOML tables (event files, regime files, consortium
files, import rows, price tables): every value checked, every error naming the field's full path.

Files are written by people (an authority's lawyer, a facility's clerk, the consortium secretariat),
so a typo must be an error that says where it is, never a value silently ignored or guessed. Each
reader returns a precise type, so code behind it needs no ``isinstance`` chains and no ``Any``.

Paths: a reader made for ``"outputs[2]"`` names its field ``outputs[2].mass_kg``; one made for a file,
``"regime.toml:"``, names ``regime.toml: rules``. A value written ``"$name"`` refers to a parameter the
file defines (regime files' ``[parameters]``); readers without parameters never see one.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import ClassVar, Self, TypeVar, overload

from raretrace.errors import ValidationError
from raretrace.times import parse_date, parse_time

D = TypeVar("D")
T = TypeVar("T")


class _Missing(enum.Enum):
    """The absence of a default (``None`` is a default some fields have)."""

    MISSING = enum.auto()


MISSING = _Missing.MISSING
_NO_PARAMETERS: Mapping[str, object] = MappingProxyType({})  # shared: most tables have none


def join(where: str, name: str) -> str:
    """A field's path below ``where``: ``a.b``, ``a[2]``, or ``file.toml: b``."""
    if not where:
        return name
    if name.startswith("["):
        return f"{where}{name}"
    return f"{where} {name}" if where.endswith(":") else f"{where}.{name}"


def table_of(data: object, where: str, shape: str = "must be a table (an object)") -> Mapping[str, object]:
    """``data`` as a table, or the error ``shape`` naming ``where``: the check every reader starts with
    (``Composition.from_dict`` needs only this one; ``Fields`` starts with it)."""
    if type(data) is dict or isinstance(data, Mapping):  # dict first: the ABC check costs more (hot)
        return data
    raise ValidationError(shape, field=where or "document")


class Fields:
    """A table (a JSON object or a TOML table), read one checked field at a time."""

    #: Whether ``"$name"`` values refer to the file's parameters (regime files) or are plain text.
    resolves_parameters: ClassVar[bool] = False

    def __init__(
        self,
        data: object,
        where: str,
        parameters: Mapping[str, object] | None = None,
        *,
        shape: str = "must be a table (an object)",
    ) -> None:
        self.data: Mapping[str, object] = table_of(data, where, shape)
        self.where = where
        self.parameters: Mapping[str, object] = parameters or _NO_PARAMETERS
        self.read: set[str] = set()

    def field(self, name: str) -> str:
        return join(self.where, name)

    def error(self, name: str, message: str) -> ValidationError:
        return ValidationError(message, field=self.field(name))

    def has(self, name: str) -> bool:
        """Whether the table gives ``name`` a value other than null."""
        return self.data.get(name) is not None

    def raw(self, name: str, default: object = MISSING) -> object:
        """The value as written (a ``$parameter`` resolved); ``default`` when absent, else an error."""
        self.read.add(name)
        value = self.data.get(name, MISSING)  # one lookup: events are read on the append path
        if value is MISSING:
            if default is MISSING:
                raise self.error(name, "is required")
            return default
        if self.resolves_parameters and isinstance(value, str) and value.startswith("$"):
            key = value[1:]
            if key not in self.parameters:
                raise self.error(name, f"refers to parameter {key!r}, which the regime does not define")
            return self.parameters[key]
        return value

    def checked(self, name: str, parse: Callable[[object, str], T]) -> T:
        """``parse(value, name)`` of the value at ``name`` (None when absent), its error naming the
        field's full path (``outputs[2].mass_kg``, or ``outputs[2].composition.Nd`` below it).

        The path is spelt out only when there is an error: events are read on the append path, where
        building it for every field read cost ~2% of an append (issue #18's regression)."""
        try:
            return parse(self.raw(name, None), name)
        except ValidationError as e:
            below = e.field[len(name) :] if e.field and e.field.startswith(name) else None
            if not self.where or below is None or below[:1] not in ("", ".", "["):
                raise
            raise ValidationError(e.message, field=self.field(name) + below) from e

    # Scalars --------------------------------------------------------------------------------------------

    @overload
    def text(self, name: str) -> str: ...
    @overload
    def text(self, name: str, default: D) -> str | D: ...
    def text(self, name: str, default: object = MISSING) -> object:
        """A non-empty string."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string")
        return value

    @overload
    def number(self, name: str, *, low: float = ..., high: float = ...) -> float: ...
    @overload
    def number(self, name: str, default: D, *, low: float = ..., high: float = ...) -> float | D: ...
    def number(self, name: str, default: object = MISSING, *, low: float = 0.0, high: float = 1.0) -> object:
        """A finite number from ``low`` to ``high`` (a share, unless told)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise self.error(name, f"must be a number from {low:g} to {high:g}")
        return float(value)

    @overload
    def integer(self, name: str, *, low: int = ..., high: int | None = ...) -> int: ...
    @overload
    def integer(self, name: str, default: D, *, low: int = ..., high: int | None = ...) -> int | D: ...
    def integer(
        self, name: str, default: object = MISSING, *, low: int = 0, high: int | None = None
    ) -> object:
        """A whole number of at least ``low`` (and at most ``high``)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.error(name, f"must be a whole number {bound}")
        return value

    @overload
    def boolean(self, name: str) -> bool: ...
    @overload
    def boolean(self, name: str, default: D) -> bool | D: ...
    def boolean(self, name: str, default: object = MISSING) -> object:
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    @overload
    def choice(self, name: str, choices: Sequence[str]) -> str: ...
    @overload
    def choice(self, name: str, choices: Sequence[str], default: D) -> str | D: ...
    def choice(self, name: str, choices: Sequence[str], default: object = MISSING) -> object:
        """One of ``choices`` (a default need not be one: it is returned as given)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str) or value not in choices:
            raise self.error(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    @overload
    def date(self, name: str) -> date: ...
    @overload
    def date(self, name: str, default: D) -> date | D: ...
    def date(self, name: str, default: object = MISSING) -> object:
        """A day, YYYY-MM-DD (the rule of ``raretrace.times``)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        return parse_date(value, self.field(name))

    @overload
    def time(self, name: str) -> str: ...
    @overload
    def time(self, name: str, default: D) -> str | D: ...
    def time(self, name: str, default: object = MISSING) -> object:
        """An instant, RFC 3339 with its offset, as normalized UTC text (the rule of ``raretrace.times``)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        return parse_time(value, self.field(name))

    # Lists and tables -----------------------------------------------------------------------------------

    @overload
    def strings(self, name: str) -> tuple[str, ...]: ...
    @overload
    def strings(self, name: str, default: D) -> tuple[str, ...] | D: ...
    def strings(self, name: str, default: object = MISSING) -> object:
        """A non-empty list of non-empty strings (``"$name"`` items expand a list parameter)."""
        value = self.raw(name, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, list) or not value:
            raise self.error(name, "must be a non-empty list of strings")
        out: list[str] = []
        for i, item in enumerate(value):
            if self.resolves_parameters and isinstance(item, str) and item.startswith("$"):
                inner = self.parameters.get(item[1:])
                if not isinstance(inner, list):
                    raise self.error(f"{name}[{i}]", f"refers to list parameter {item[1:]!r}, not defined")
                out.extend(str(x) for x in inner)
            elif isinstance(item, str) and item:
                out.append(item)
            else:
                raise self.error(f"{name}[{i}]", "must be a non-empty string")
        return tuple(out)

    @overload
    def each(self, name: str, parse: Callable[[str, str], str]) -> tuple[str, ...]: ...
    @overload
    def each(self, name: str, parse: Callable[[str, str], str], default: D) -> tuple[str, ...] | D: ...
    def each(self, name: str, parse: Callable[[str, str], str], default: object = MISSING) -> object:
        """``strings``, each checked by ``parse(item, field)``; the error names the list."""
        values = self.strings(name, default)
        if values is default and default is not MISSING:
            return values
        assert isinstance(values, tuple)  # not the default, so what strings() read
        try:
            return tuple(parse(v, self.field(name)) for v in values)
        except ValidationError as e:
            raise self.error(name, e.message) from e

    def items(self, name: str, *, required: bool = False) -> list[object]:
        """A list (empty when absent, unless required: then present and non-empty)."""
        value = self.raw(name, MISSING if required else [])
        if not isinstance(value, list) or (required and not value):
            raise self.error(name, "missing or not a non-empty list" if required else "must be a list")
        return value

    def mapping(self, name: str, default: Mapping[str, object] | None = None) -> Mapping[str, object]:
        """An object taken whole (its own reader checks inside it); ``default`` (or empty) when absent."""
        value = self.raw(name, default if default is not None else {})
        if not isinstance(value, Mapping):
            raise self.error(name, "must be a table (an object)")
        return value

    def table(self, name: str) -> Self | None:
        """The sub-table at ``name``, read the same way, or None when absent."""
        value = self.raw(name, None)
        return None if value is None else type(self)(value, self.field(name), self.parameters)

    def tables(self, name: str, *, required: bool = False) -> list[Self]:
        """The list of sub-tables at ``name``, each read the same way."""
        value = self.raw(name, MISSING if required else [])
        if not isinstance(value, list) or (required and not value):
            raise self.error(name, "must be a non-empty list of tables" if required else "must be a list")
        return [type(self)(item, f"{self.field(name)}[{i}]", self.parameters) for i, item in enumerate(value)]

    def done(self) -> None:
        """Reject keys nobody read: in a file people write, they are typos, not extensions."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise self.error(unknown[0], "is not a field this table has (a typo?)")
