"""The pure rules of who may see and do what (``raretrace.roles``), on hand-made records: no database.

The expected answers are the rules as docs/security.md states them: an operator sees a lot its facilities
made, hold, are receiving, or shipped or received; the auditor and the secretariat see everything; a lot
the caller may not see is refused exactly as one that does not exist; custody is shown only to its
holder or receiver; a credential only to a caller who may see every lot it names; an operator submits
only its own facilities' events, and never the secretariat's kinds.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.custody.events import SECRETARIAT_KINDS
from raretrace.errors import AuthorizationError, NotFoundError
from raretrace.roles import (
    ANONYMOUS,
    ROLES,
    AuthenticationError,
    Parties,
    Principal,
    holds_or_made,
    may_submit,
    not_found,
    require,
    require_held,
    require_participant,
    require_seen,
    seen_by_holding,
    sees_credential,
    sees_custody,
    took_part,
)

MINE, SEPARATOR, MAGNETS = "CN-MINE", "CN-SEP", "JP-MAG"
CN = Principal("cn", "operator", "CN Rare Earths", frozenset({MINE, SEPARATOR}))
JP = Principal("jp", "operator", "JP Magnets", frozenset({MAGNETS}))
AUDITOR = Principal("audit", "auditor", "Auditor")
SECRETARIAT = Principal("sec", "secretariat", "Secretariat")


def summary(producer: str, custodian: str) -> Parties:
    """A lot as a trace read it: who made it, who holds it."""
    return {"producer": producer, "custodian": custodian}


def test_only_the_auditor_and_the_secretariat_see_everything() -> None:
    assert ROLES == ("operator", "auditor", "secretariat")
    assert [p.sees_everything for p in (CN, JP, AUDITOR, SECRETARIAT, ANONYMOUS)] == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_the_public_is_asked_to_authenticate_and_a_participant_of_another_role_is_forbidden() -> None:
    with pytest.raises(AuthenticationError, match="needs a participant's bearer token"):
        require_participant(ANONYMOUS, action="tracing lots")
    for participant in (CN, AUDITOR, SECRETARIAT):
        require_participant(participant, action="tracing lots")
    with pytest.raises(AuthorizationError, match="is for the secretariat; participant jp is a operator"):
        require(JP, "secretariat", action="adding participants")
    require(SECRETARIAT, "secretariat", action="adding participants")
    assert AuthenticationError("x").exit_code == AuthorizationError("x").exit_code == 3


def test_an_operator_sees_the_lots_its_facilities_made_hold_receive_or_moved() -> None:
    mine = CN.facilities
    assert holds_or_made(mine, producer=MINE, custodian=MAGNETS, to=None)  # made it, shipped away since
    assert holds_or_made(mine, producer="AU-MINE", custodian=SEPARATOR, to=None)  # holds it
    assert holds_or_made(mine, producer="AU-MINE", custodian="MY-SEP", to=SEPARATOR)  # receiving it
    assert not holds_or_made(mine, producer="AU-MINE", custodian="MY-SEP", to=None)
    assert not holds_or_made(mine, producer=None, custodian=None, to=None)  # a lot that does not exist
    assert took_part(mine, sender=SEPARATOR, receiver=MAGNETS) and took_part(mine, "AU-MINE", MINE)
    assert not took_part(mine, sender="AU-MINE", receiver="MY-SEP")


def test_a_trace_s_summaries_show_which_lots_an_operator_made_or_holds() -> None:
    lots = {
        "ore": summary(MINE, SEPARATOR),
        "oxide": summary(SEPARATOR, MAGNETS),  # made by CN, now at JP
        "magnet": summary(MAGNETS, MAGNETS),
        "au-ore": summary("AU-MINE", "MY-SEP"),
    }
    assert seen_by_holding(CN, lots) == {"ore", "oxide"}
    assert seen_by_holding(JP, lots) == {"oxide", "magnet"}
    assert seen_by_holding(AUDITOR, lots) == set()  # an auditor sees all without this shortcut


def test_a_lot_not_seen_is_refused_exactly_as_one_that_does_not_exist() -> None:
    require_seen(["a", "b"], {"a", "b", "c"})
    with pytest.raises(NotFoundError) as refused:
        require_seen(["a", "secret", "missing"], {"a"})
    assert str(refused.value) == str(not_found("secret"))  # the first one not seen
    assert str(not_found("secret")).replace("secret", "missing") == str(not_found("missing"))
    assert refused.value.field == "lot"


def test_an_operator_certifies_only_the_lots_it_holds() -> None:
    require_held(JP, ["magnet"], {"magnet"}, action="issuing a certificate")
    with pytest.raises(AuthorizationError, match="lot oxide is not held by a facility of jp"):
        require_held(JP, ["magnet", "oxide"], {"magnet"}, action="issuing a certificate")
    require_held(SECRETARIAT, ["oxide"], set(), action="issuing a certificate")


def test_custody_is_shown_to_its_holder_and_its_receiver_only() -> None:
    assert sees_custody(JP.facilities, custodian=MAGNETS, in_transit_to=None)
    assert sees_custody(JP.facilities, custodian=SEPARATOR, in_transit_to=MAGNETS)
    assert not sees_custody(CN.facilities, custodian=MAGNETS, in_transit_to=None)  # it moved on


@given(st.sets(st.sampled_from(["a", "b", "c", "d"])), st.sets(st.sampled_from(["a", "b", "c", "d"])))
def test_a_credential_is_shown_only_to_a_caller_who_sees_every_lot_it_names(
    named: set[str], visible: set[str]
) -> None:
    assert sees_credential(sorted(named), visible) == named.issubset(visible)


def test_an_operator_submits_its_own_facilities_events_the_secretariat_any() -> None:
    may_submit(CN, "extract", MINE, "envelope 0")
    with pytest.raises(AuthorizationError, match="facility JP-MAG is not operated by participant cn"):
        may_submit(CN, "process", MAGNETS, "envelope 1")
    kind = sorted(SECRETARIAT_KINDS)[0]
    with pytest.raises(AuthorizationError, match=f"a {kind} event is the secretariat's"):
        may_submit(CN, kind, MINE, "envelope 2")
    may_submit(SECRETARIAT, kind, None, "envelope 3")
    may_submit(SECRETARIAT, "process", MAGNETS, "envelope 4")
    with pytest.raises(AuthorizationError, match="submitting events is for the operator or secretariat"):
        may_submit(AUDITOR, "extract", MINE, "envelope 5")
    with pytest.raises(AuthenticationError):
        may_submit(ANONYMOUS, "extract", MINE, "envelope 6")
