"""Reading regime files: the one checked reader (``raretrace.fields``) with the regime's own vocabulary.

Regime files name elements, stages, forms and countries, and may refer to their ``[parameters]`` with
``"$name"``; a typo in any of them is an error naming the file and the field, never a rule silently
ignored (unknown keys are rejected too, by ``done``).
"""

from __future__ import annotations

from typing import TypeVar, overload

from raretrace.elements import parse_element
from raretrace.errors import ValidationError
from raretrace.fields import MISSING, Fields
from raretrace.model import Form, Stage, parse_country
from raretrace.provenance import UNKNOWN

D = TypeVar("D")
STAGES = tuple(s.value for s in Stage)
FORMS = tuple(f.value for f in Form)


def _element(value: str, field: str) -> str:
    return value if value == "*" else parse_element(value).value


def _stage(value: str, field: str) -> str:
    if value not in STAGES and value != "*":
        raise ValidationError(f"{value!r} is not a stage ({', '.join(STAGES)}, or *)", field=field)
    return value


def _form(value: str, field: str) -> str:
    if value not in FORMS:
        raise ValidationError(f"{value!r} is not a form ({', '.join(FORMS)})", field=field)
    return value


def _country(value: str, field: str) -> str:
    return value if value == UNKNOWN else parse_country(value, field)


class RegimeFields(Fields):
    """A table of a regime file: ``$parameters`` resolve, and elements, stages, forms, countries check."""

    resolves_parameters = True

    @overload
    def elements(self, name: str) -> tuple[str, ...]: ...
    @overload
    def elements(self, name: str, default: D) -> tuple[str, ...] | D: ...
    def elements(self, name: str, default: object = MISSING) -> object:
        """Element symbols, or ``("*",)`` for all of them."""
        values = self.strings(name, default)
        if values == ("*",):
            return values
        return self.each(name, _element, default)

    @overload
    def stages(self, name: str) -> tuple[str, ...]: ...
    @overload
    def stages(self, name: str, default: D) -> tuple[str, ...] | D: ...
    def stages(self, name: str, default: object = MISSING) -> object:
        return self.each(name, _stage, default)

    @overload
    def forms(self, name: str) -> tuple[str, ...]: ...
    @overload
    def forms(self, name: str, default: D) -> tuple[str, ...] | D: ...
    def forms(self, name: str, default: object = MISSING) -> object:
        return self.each(name, _form, default)

    @overload
    def countries(self, name: str) -> tuple[str, ...]: ...
    @overload
    def countries(self, name: str, default: D) -> tuple[str, ...] | D: ...
    def countries(self, name: str, default: object = MISSING) -> object:
        """ISO 3166-1 alpha-2 codes (upper-cased), or ``unknown``."""
        return self.each(name, _country, default)
