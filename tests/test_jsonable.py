"""The one conversion of typed answers to JSON: names, order, enums, sets and refusals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.jsontypes import is_json
from raretrace.render.jsonable import jsonable


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Hop:
    sender: str = field(metadata={"json": "from"})
    to: str
    note: str | None = field(default=None, metadata={"omit_if_none": True})


@dataclass(frozen=True)
class Answer:
    when: date
    colour: Colour
    hops: tuple[Hop, ...]
    tags: frozenset[str]


def test_dataclasses_keep_field_order_and_take_json_names_from_metadata() -> None:
    answer = Answer(
        date(2027, 1, 1), Colour.RED, (Hop("A", "B"), Hop("B", "C", "late")), frozenset({"z", "a"})
    )
    assert jsonable(answer) == {
        "when": "2027-01-01",
        "colour": "red",
        "hops": [{"from": "A", "to": "B"}, {"from": "B", "to": "C", "note": "late"}],
        "tags": ["a", "z"],
    }
    assert list(jsonable(answer)) == ["when", "colour", "hops", "tags"]  # type: ignore[arg-type]  # a dict here


@pytest.mark.parametrize("bad", [math.nan, math.inf, object()])
def test_values_without_a_json_form_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        jsonable({"x": bad})


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(json_like)
def test_json_values_pass_through_unchanged(value: object) -> None:
    assert jsonable(value) == value


@given(json_like)
def test_parsed_json_is_json(value: object) -> None:
    assert is_json(value)


@pytest.mark.parametrize("bad", [{"a": {1, 2}}, [object()], {1: "key not a string"}, ({"a": 1},)])
def test_values_that_json_cannot_hold_are_not_json(bad: object) -> None:
    assert not is_json(bad)


class Mood(StrEnum):
    GLAD = "glad"


@dataclass(frozen=True)
class Where:
    city: str
    country: str | None


@dataclass(frozen=True)
class Visit:
    who: str
    where: Where = field(metadata={"inline": True})
    mood: Mood
    stays: int


def test_an_inline_member_writes_its_members_in_its_place_and_a_str_enum_its_plain_value() -> None:
    written = jsonable(Visit("ann", Where("Oslo", None), Mood.GLAD, 2))
    assert written == {"who": "ann", "city": "Oslo", "country": None, "mood": "glad", "stays": 2}
    assert list(written) == ["who", "city", "country", "mood", "stays"]  # type: ignore[arg-type]  # a dict here
    assert type(written["mood"]) is str  # type: ignore[index]  # not the enum: orjson writes it directly


@dataclass(frozen=True, slots=True)
class Leg:
    start: str
    km: float
    stops: int | None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_dataclass_of_plain_fields_is_written_in_order_and_refuses_numbers_json_cannot_hold(
    bad: float,
) -> None:
    legs = (Leg("Oslo", 12.5, None), Leg("Bergen", 3.0, 2))
    for _ in range(2):  # the first answer finds how Leg is written, the second uses it
        assert jsonable(legs) == [
            {"start": "Oslo", "km": 12.5, "stops": None},
            {"start": "Bergen", "km": 3.0, "stops": 2},
        ]
    with pytest.raises(ValueError, match="no JSON form"):
        jsonable(Leg("Oslo", bad, 1))
    with pytest.raises(ValueError, match="no JSON form"):
        jsonable([legs[0], Leg("Oslo", bad, 1)])


@dataclass(frozen=True)
class Booking:
    who: str
    nights: int
    #: kept for readers in Python, never written (the JSON says what it needs through the members above)
    visit: Visit = field(metadata={"omit": True})


def test_an_omitted_member_is_never_written_and_the_rest_keep_their_order() -> None:
    booking = Booking("ann", 3, Visit("ann", Where("Oslo", None), Mood.GLAD, 2))
    for _ in range(2):  # the first answer finds how Booking is written, the second uses it
        assert jsonable(booking) == {"who": "ann", "nights": 3}
        assert jsonable([booking, booking]) == [{"who": "ann", "nights": 3}] * 2
    assert booking.visit.where.city == "Oslo"
