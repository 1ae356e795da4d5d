"""Event parsing: typed objects, and errors that name the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.custody.events import (
    EVENT_KINDS,
    Process,
    Transfer,
    event_from_statement,
    parse_event,
    statement_for,
)
from raretrace.errors import ValidationError
from raretrace.model import Composition, Stage

PROCESS: dict[str, Any] = {
    "kind": "process",
    "event_id": "e1",
    "time": "2026-01-05T08:00:00+01:00",
    "facility": "US-SEP",
    "stage": "separation",
    "inputs": [{"lot": "urn:raretrace:lot:ore-1", "mass_kg": 1000}],
    "additions": [{"material": "HCl", "mass_kg": 5, "composition": {"other": 1}}],
    "outputs": [
        {
            "id": "urn:raretrace:lot:ox-1",
            "form": "separated_oxide",
            "mass_kg": 10,
            "composition": {"nd": 0.6, "Praseodymium": 0.2},
        }
    ],
}


def test_process_parses_into_typed_object() -> None:
    event = parse_event(PROCESS)
    assert isinstance(event, Process)
    assert event.stage is Stage.SEPARATION
    assert event.time == "2026-01-05T07:00:00.000000Z"
    assert event.outputs[0].composition.fractions == {"Nd": 0.6, "Pr": 0.2}
    assert event.inputs[0].mass_kg == 1000.0


def test_every_kind_is_known() -> None:
    assert set(EVENT_KINDS) == {
        "extract",
        "process",
        "assemble",
        "transfer",
        "receive",
        "assay",
        "recycle",
        "correct",
        "register_facility",
        "rotate_key",
        "revoke_key",
        "import",  # lots from another member's registry, on its certificate (issue #4)
    }


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("kind",), "smelt", "kind", "'smelt' is not one of"),
        (("time",), "yesterday", "time", "not an RFC 3339 timestamp"),
        (("time",), "2026-01-05T08:00:00", "time", "has no UTC offset"),
        (("stage",), "magnetizing", "stage", "not one of"),
        (("stage",), "mining", "stage", "a process event performs one of"),
        (("inputs", 0, "mass_kg"), -1, "inputs[0].mass_kg", "must be > 0"),
        (("inputs", 0, "lot"), "ore-1", "inputs[0].lot", "is not a URN"),
        (("outputs", 0, "mass_kg"), "ten", "outputs[0].mass_kg", "must be a number"),
        (("outputs", 0, "form"), "powder", "outputs[0].form", "'powder' is not one of"),
        (("outputs", 0, "composition"), {"Nd": 0.9, "Pr": 0.2}, "outputs[0].composition", "sum to 1.1"),
        (
            ("outputs", 0, "composition"),
            {"Unobtainium": 0.1},
            "outputs[0].composition.Unobtainium",
            "unknown component",
        ),
        (("outputs", 0, "composition"), {"Nd": 1.5}, "outputs[0].composition.Nd", "must be <= 1"),
        # the paths Fields.checked spells out only on error: the value absent, or not an object
        (("outputs", 0, "composition"), None, "outputs[0].composition", "must be an object of component"),
        (("outputs", 0, "composition"), [0.5], "outputs[0].composition", "must be an object of component"),
        (("outputs", 0, "form"), None, "outputs[0].form", "must be a string"),
        (("inputs", 0, "lot"), None, "inputs[0].lot", "is not a URN"),
        (("inputs", 0, "mass_kg"), None, "inputs[0].mass_kg", "must be a number"),
        (("facility",), "has space", "facility", "not a valid identifier"),
    ],
)
def test_errors_name_the_field(path: tuple[Any, ...], value: Any, field: str, message: str) -> None:
    event = copy.deepcopy(PROCESS)
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError, match=message) as info:
        parse_event(event)
    assert info.value.field == field


def test_transfer_to_self_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot transfer to itself"):
        parse_event(
            {
                "kind": "transfer",
                "event_id": "t",
                "time": "2026-01-01T00:00:00Z",
                "facility": "A",
                "to": "A",
                "lots": ["urn:x:1"],
            }
        )
    event = parse_event(
        {
            "kind": "transfer",
            "event_id": "t",
            "time": "2026-01-01T00:00:00Z",
            "facility": "A",
            "to": "B",
            "lots": ["urn:x:1"],
        }
    )
    assert isinstance(event, Transfer) and event.lots == ("urn:x:1",)


def test_statement_subjects_must_match_the_predicate() -> None:
    statement = statement_for(PROCESS)
    assert statement["predicateType"] == "https://raretrace.dev/event/process/v1"
    assert [s["name"] for s in statement["subject"]] == ["urn:raretrace:lot:ox-1"]
    assert event_from_statement(statement).event_id == "e1"
    forged = copy.deepcopy(statement)
    forged["subject"][0]["digest"]["sha256"] = "0" * 64
    with pytest.raises(ValidationError, match="subjects do not match"):
        event_from_statement(forged)
    forged = copy.deepcopy(statement)
    forged["predicateType"] = "https://raretrace.dev/event/extract/v1"
    with pytest.raises(ValidationError, match="predicateType"):
        event_from_statement(forged)


fractions = st.dictionaries(
    st.sampled_from(["La", "Ce", "Pr", "Nd", "Dy", "Fe", "B"]),
    st.floats(min_value=0, max_value=1),
    max_size=7,
)


@given(fractions)
def test_a_composition_exists_only_if_it_sums_to_at_most_one(values: dict[str, float]) -> None:
    if sum(values.values()) <= 1 + 1e-9:
        assert Composition(values).fractions == values
    else:
        with pytest.raises(ValidationError, match="above 1"):
            Composition(values)
