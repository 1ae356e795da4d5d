"""Elements: weights, oxide factors, groups and parsing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.elements import (
    CHINA_CONTROLLED,
    HREE,
    LREE,
    MAGNET_ELEMENTS,
    MOFCOM_18_2025,
    MOFCOM_57_2025,
    MREE,
    NON_REE_COMPONENTS,
    OTHER,
    OXYGEN_WEIGHT,
    TRADED,
    Element,
    element_to_oxide,
    oxide_factor,
    oxide_formula,
    oxide_to_element,
    parse_component,
    parse_element,
)
from raretrace.errors import ValidationError

E = Element
TEXTBOOK_FACTORS = {
    "Nd": ("Nd2O3", 0.857),
    "Ce": ("CeO2", 0.814),
    "Pr": ("Pr6O11", 0.828),
    "Dy": ("Dy2O3", 0.871),
    "Tb": ("Tb4O7", 0.850),
    "Y": ("Y2O3", 0.787),
    "La": ("La2O3", 0.853),
}

masses = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
traded = st.sampled_from(TRADED)


# --- the table -------------------------------------------------------------------------------------------


def test_seventeen_elements_in_atomic_number_order() -> None:
    numbers = [e.atomic_number for e in Element]
    assert len(numbers) == 17
    assert numbers == sorted(numbers)
    assert numbers == [21, 39, *range(57, 72)]


def test_value_is_symbol_and_english_name_is_lowercase_name() -> None:
    assert E.Nd == "Nd"
    assert E.Nd.value == "Nd"
    assert E.Nd.english_name == "neodymium"
    assert E.Y.english_name == "yttrium"


@pytest.mark.parametrize(
    ("symbol", "weight"),
    [("Sc", 44.956), ("Y", 88.906), ("La", 138.91), ("Nd", 144.24), ("Dy", 162.50), ("Lu", 174.97)],
)
def test_iupac_2021_abridged_weights(symbol: str, weight: float) -> None:
    assert Element(symbol).atomic_weight == weight


def test_pm_has_no_weight_and_is_not_traded() -> None:
    assert E.Pm.atomic_weight is None
    assert not E.Pm.traded
    assert E.Pm not in TRADED
    assert len(TRADED) == 16
    assert all(e.traded and e.atomic_weight is not None for e in TRADED)
    assert [e.value for e in TRADED][:3] == ["Sc", "Y", "La"]


def test_pm_has_no_oxide_factor() -> None:
    with pytest.raises(ValidationError, match="Pm"):
        oxide_factor("Pm")
    with pytest.raises(ValidationError, match="Pm"):
        oxide_to_element("Pm", 1.0)


# --- oxides ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "formula", "factor"), [(s, f, x) for s, (f, x) in TEXTBOOK_FACTORS.items()]
)
def test_textbook_oxide_factors(symbol: str, formula: str, factor: float) -> None:
    assert oxide_formula(symbol) == formula
    assert round(oxide_factor(symbol), 3) == factor
    assert round(oxide_to_element(symbol, 1.0), 3) == factor


def test_factor_is_computed_from_weights() -> None:
    nd = E.Nd.atomic_weight
    assert nd is not None
    assert oxide_factor("Nd") == pytest.approx(2 * nd / (2 * nd + 3 * OXYGEN_WEIGHT), rel=1e-15)


def test_oxide_stoichiometry() -> None:
    odd = {E.Ce: (1, 2), E.Pr: (6, 11), E.Tb: (4, 7)}
    for element in Element:
        assert element.oxide == odd.get(element, (2, 3))
    assert oxide_formula("Sm") == "Sm2O3"
    assert oxide_formula(E.Eu) == "Eu2O3"


@given(traded)
def test_factor_between_zero_and_one(element: Element) -> None:
    assert 0.5 < oxide_factor(element) < 1


@given(traded, masses)
def test_round_trip_oxide_element(element: Element, mass: float) -> None:
    assert element_to_oxide(element, oxide_to_element(element, mass)) == pytest.approx(mass, rel=1e-12)
    assert oxide_to_element(element, element_to_oxide(element, mass)) == pytest.approx(mass, rel=1e-12)


@given(traded, masses)
def test_oxide_is_heavier_than_its_element(element: Element, mass: float) -> None:
    assert oxide_to_element(element, mass) <= mass <= element_to_oxide(element, mass)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, True, "1.0"])
def test_bad_masses_rejected(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        oxide_to_element("Nd", bad)  # type: ignore[arg-type]
    assert info.value.field == "oxide_mass"
    with pytest.raises(ValidationError) as info:
        element_to_oxide("Nd", bad)  # type: ignore[arg-type]
    assert info.value.field == "element_mass"


def test_integer_mass_accepted() -> None:
    assert oxide_to_element("Nd", 100) == pytest.approx(85.73, abs=0.01)


# --- groups ----------------------------------------------------------------------------------------------


def test_light_heavy_split() -> None:
    assert {e.value for e in LREE} == {"La", "Ce", "Pr", "Nd", "Sm", "Eu"}
    assert {e.value for e in HREE} == {"Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"}
    assert not LREE & HREE
    assert set(TRADED) - LREE - HREE == {E.Sc}


def test_medium_group_straddles_the_split() -> None:
    assert {e.value for e in MREE} == {"Sm", "Eu", "Gd"}
    assert {E.Sm, E.Eu} == MREE & LREE
    assert {E.Gd} == MREE & HREE


def test_mofcom_lists() -> None:
    assert {e.value for e in MOFCOM_18_2025} == {"Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"}
    assert {e.value for e in MOFCOM_57_2025} == {"Ho", "Er", "Tm", "Eu", "Yb"}
    assert not MOFCOM_18_2025 & MOFCOM_57_2025
    assert CHINA_CONTROLLED == MOFCOM_18_2025 | MOFCOM_57_2025
    assert len(CHINA_CONTROLLED) == 12
    # The five of 17 left uncontrolled: the light ones plus untraded Pm.
    assert set(Element) - CHINA_CONTROLLED == {E.La, E.Ce, E.Pr, E.Nd, E.Pm}


def test_magnet_elements() -> None:
    assert {e.value for e in MAGNET_ELEMENTS} == {"Pr", "Nd", "Dy", "Tb", "Sm"}


def test_groups_hold_only_traded_elements() -> None:
    for group in (LREE, HREE, MREE, MOFCOM_18_2025, MOFCOM_57_2025, CHINA_CONTROLLED, MAGNET_ELEMENTS):
        assert group <= set(TRADED)


def test_non_ree_components() -> None:
    expected = {"Fe", "B", "Co", "Cu", "Al", "Ga", "Nb", "Zr", "Ni", "Ti", "Si", "Ca"}
    expected |= {"Mg", "Mn", "Th", "U", "O", "C", "F", "P", "Ba", "Sr", "Pb", "Zn", "Ta"}
    assert expected == NON_REE_COMPONENTS
    assert len(NON_REE_COMPONENTS) == 25
    assert not NON_REE_COMPONENTS & {e.value for e in Element}
    assert OTHER == "other"


# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Nd", "nd", "ND", " nD ", "neodymium", "Neodymium", "NEODYMIUM"])
def test_parse_element_case_insensitive(text: str) -> None:
    assert parse_element(text) is E.Nd


@given(st.sampled_from(list(Element)))
def test_parse_element_round_trips_symbol_and_name(element: Element) -> None:
    assert parse_element(element.value) is element
    assert parse_element(element.value.swapcase()) is element
    assert parse_element(element.english_name.upper()) is element
    assert parse_element(element) is element


@pytest.mark.parametrize("text", ["Xx", "Fe", "", "neodym", "Nd2O3", "other"])
def test_parse_element_error_names_input_and_lists_symbols(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_element(text)
    assert repr(text) in info.value.message
    assert "Sc, Y, La, Ce" in info.value.message
    assert info.value.field == "element"


def test_parse_element_rejects_non_text() -> None:
    with pytest.raises(ValidationError, match="60"):
        parse_element(60)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("nd", "Nd"),
        ("Dysprosium", "Dy"),
        ("fe", "Fe"),
        ("FE", "Fe"),
        ("b", "B"),
        ("co", "Co"),
        ("iron", "Fe"),
        ("Aluminum", "Al"),
        ("aluminium", "Al"),
        ("other", "other"),
        ("OTHER", "other"),
        (" Zn ", "Zn"),
    ],
)
def test_parse_component(text: str, symbol: str) -> None:
    assert parse_component(text) == symbol


@given(st.sampled_from(sorted(NON_REE_COMPONENTS)))
def test_parse_component_round_trips_non_ree(symbol: str) -> None:
    assert parse_component(symbol) == symbol
    assert parse_component(symbol.lower()) == symbol
    assert parse_component(symbol.upper()) == symbol


@pytest.mark.parametrize("text", ["Xx", "", "Au", "Nd2O3", "others"])
def test_parse_component_error_names_input(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_component(text)
    assert repr(text) in info.value.message
    assert "Fe" in info.value.message
    assert info.value.field == "component"


def test_parse_component_refuses_untraded_pm() -> None:
    with pytest.raises(ValidationError, match="not traded"):
        parse_component("promethium")
    assert parse_element("Pm") is E.Pm


@given(st.text(max_size=20))
def test_parse_never_raises_anything_but_validation_error(text: str) -> None:
    for parse in (parse_element, parse_component):
        try:
            result = parse(text)
        except ValidationError:
            continue
        assert isinstance(result, str)
