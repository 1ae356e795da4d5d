"""The verifier's fast paths (issue #4) give exactly what the plain paths give.

Step 1 reveals the credential in the walk that prepares it for hashing (``reveal_signed``), and step 2
reports that outcome: what is shown, what is hidden and every error must be ``reveal``'s, and the bytes
hashed must be the reference JCS of the signed document. Disclosures of strings skip the byte scan
before ``orjson``; base64url and digests are decoded without translating the text. Each is compared
with the plain path on arbitrary values, and tampering must still fail at the step that names it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from raretrace.certify import disclosure
from raretrace.certify import verify as steps
from raretrace.certify.disclosure import conceal, make_disclosure, reveal, reveal_signed
from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.crypto import canonical
from raretrace.crypto.canonical import canonical_bytes, loads, reference_canonical_bytes
from raretrace.crypto.dataintegrity import verify_proof
from raretrace.crypto.multikey import public_key_from_multibase
from raretrace.errors import RaretraceError, ValidationError
from tests.test_certificates import NOW, check, issued  # noqa: F401 - issued is a fixture
from tests.test_dataintegrity import VECTOR_LEAVES, changed, require_vectors, set_other

# Any JSON value, with the numbers the JCS fast path turns away (exponents, 16 digits and more,
# integers beyond 2**53, -0.0, integral floats), floats at every magnitude (Python and ECMAScript
# switch to exponents at different places: 1e-5 is 1e-05 to Python, 0.00001 to JCS), NaN and the
# infinities (which JCS refuses), strings with what JCS escapes or orders specially (controls, quote,
# backslash, U+2028, characters past U+FFFF, lone surrogates), and values that are not plain JSON (a
# tuple, a dict subclass), which the verifier must hand to the canonical module unchanged.
_numbers = (
    st.integers()
    | st.floats()
    | st.floats(min_value=1e-8, max_value=1e-3)
    | st.floats(min_value=1e14, max_value=1e22)
    | st.sampled_from([-0.0, 1.0, 1000.0, 1e16, 1e21, 1e-5, 1.5e-5, 1e-6, 1e-7, 5e-324, 2.0**53, 0.1 + 0.2])
    | st.sampled_from([10**15, -(10**15), 2**53 + 1])
)
_jcs_strings = st.text(max_size=5) | st.sampled_from(
    ["\x00\x1f\x7f", '"\\/', "\u2028\u2029\ufeff", "\U0001f600", "\ud800", "_sd", '{"...": 1}', "1e5"]
)
_members = st.text(alphabet="abcxyz_.é\U0001f600", min_size=1, max_size=4).filter(
    lambda k: k not in ("_sd", "...", "_sd_alg")
)


class _Sub(dict):  # type: ignore[type-arg]
    pass


_values = st.recursive(
    st.none() | st.booleans() | _numbers | _jcs_strings,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_members, inner, max_size=3)
        | st.builds(tuple, st.lists(inner, max_size=2))
        | st.builds(_Sub, st.dictionaries(_members, inner, max_size=2))
    ),
    max_leaves=14,
)
_documents = st.dictionaries(_members, _values, max_size=4)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ValidationError as e:
        return "error", (e.message, e.field)


@settings(max_examples=400, deadline=None)
@given(_documents, st.randoms(use_true_random=False))
def test_reveal_signed_is_reveal_plus_the_jcs_of_the_signed_document(
    document: dict[str, Any], rnd: Any
) -> None:
    """Random members and elements concealed, a random choice of disclosures handed over (some given
    twice or forged): the same shown document, hidden count and errors as ``reveal``; and, when the
    walk prepared the signed document, ``canonical_bytes`` of it is the reference JCS."""
    try:
        concealed, disclosures = conceal(document, lambda path: rnd.random() < 0.35)
    except ValidationError:  # a lone surrogate concealed: no disclosure can carry it (tested below)
        assume(False)
    kept = [d for d in disclosures if rnd.random() < 0.7]
    if kept and rnd.random() < 0.1:
        kept.append(kept[0])  # given twice
    if rnd.random() < 0.1:
        kept.append(make_disclosure("x", 1))  # matches nothing
    rnd.shuffle(kept)
    before = copy.deepcopy(concealed)
    plain = _outcome(lambda: reveal(concealed, kept))
    fast = _outcome(lambda: reveal_signed(concealed, kept))
    assert fast[0] == plain[0]
    if plain[0] == "error":
        assert fast[1] == plain[1]
        return
    shown, hidden, signed = fast[1]
    assert (shown, hidden) == plain[1]
    assert repr(shown) == repr(plain[1][0])  # 1.0 stays a float, the same member order
    assert concealed == before and repr(concealed) == repr(before)  # the document is not changed
    try:
        expected = reference_canonical_bytes(concealed)
    except Exception:
        expected = None
    if signed is not None:
        assert expected is not None and canonical_bytes(signed) == expected
        assert canonical_bytes(signed) == canonical_bytes(concealed)
    elif expected is not None:
        assert canonical_bytes(concealed) == expected


def test_reveal_signed_leaves_doubtful_documents_to_the_canonical_module() -> None:
    for doubtful in (
        {"n": 1e16},
        {"n": 10**15},
        {"n": [1e-7]},
        {"t": (1, 2)},
        {"d": _Sub(a=1)},
        {"s": "x", "b": True, "i": [-(10**15)]},
    ):
        shown, hidden, signed = reveal_signed(doubtful, [])
        assert signed is None and (shown, hidden) == reveal(doubtful, []), doubtful
    _, _, signed = reveal_signed({"z": -0.0, "l": [[3.0]]}, [])  # integral floats: written as ints
    assert signed is not None and canonical_bytes(signed) == b'{"l":[[3]],"z":0}'
    concealed, disclosures = conceal({"a": {"b": [1.0, 2.5]}, "c": "x"}, lambda path: path == ("c",))
    shown, hidden, signed = reveal_signed(concealed, disclosures)
    assert shown == {"a": {"b": [1.0, 2.5]}, "c": "x"} and type(shown["a"]["b"][0]) is float
    assert signed is not None and canonical_bytes(signed) == reference_canonical_bytes(concealed)
    assert type(concealed["a"]["b"][0]) is float  # copy on write: the input keeps its float


def test_what_reveal_signed_shows_is_new_only_along_the_paths_to_a_commitment() -> None:
    document = {"plain": {"a": [1, "x"], "b": {"c": 2.5}}, "outer": {"inner": {"secret": 1, "open": [3]}}}
    concealed, disclosures = conceal(document, lambda path: path == ("outer", "inner", "secret"))
    shown, hidden, _ = reveal_signed(concealed, disclosures)
    assert shown == document and hidden == 0
    assert shown["plain"] is concealed["plain"]  # no commitment inside: shared, not copied
    assert shown["outer"] is not concealed["outer"]  # on the path to a commitment: new
    assert shown["outer"]["inner"] is not concealed["outer"]["inner"]
    assert shown["outer"]["inner"]["open"] is concealed["outer"]["inner"]["open"]
    assert "_sd" in concealed["outer"]["inner"]  # the document is left as it was
    copied, _ = reveal(concealed, disclosures)
    assert copied == shown and copied["plain"] is not concealed["plain"]  # reveal still copies


def test_a_value_no_utf8_json_can_carry_is_refused_by_name_when_concealed() -> None:
    with pytest.raises(ValidationError, match="lone surrogate") as info:
        conceal({"exporter": "\ud800"}, lambda path: True)
    assert info.value.field == "exporter"


def test_a_malformed_commitment_is_a_validation_error_not_a_crash() -> None:
    for bad in ({"_sd": [["not", "hashable"]]}, {"_sd": 5}, {"l": [{"...": {"x": 1}}]}, {"_sd": [1]}):
        for walk in (reveal, reveal_signed):
            with pytest.raises(ValidationError):
                walk(bad, [])
    with pytest.raises(ValidationError, match="beyond ASCII") as info:
        reveal({}, ["é"])
    assert info.value.field == "disclosures[0]"


# --- decoding -----------------------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_base64url_and_digests_as_the_standard_library_computes_them(data: bytes) -> None:
    text = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert disclosure._unb64(text, "d") == data
    expected = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    assert disclosure.digest(text) == expected


@pytest.mark.parametrize("text", ["a b", "é", "YW-_", "YWI=", "Y", "YW=I"])
def test_base64url_refusals_are_those_of_urlsafe_b64decode(text: str) -> None:
    try:
        expected: bytes | None = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValidationError, match="base64url"):
            disclosure._unb64(text, "d")
    else:
        assert disclosure._unb64(text, "d") == expected


_strings = st.text() | st.sampled_from(["\ud800", "\x00", '"\\', "1" * 30, "[" * 300])


_string_trees = st.recursive(
    _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=12,
)


@given(st.lists(_string_trees, max_size=3) | st.dictionaries(_strings, _string_trees, max_size=3))
def test_strings_only_json_decodes_as_json_loads(value: Any) -> None:
    """An array or object of strings skips the byte scan: the value is still json.loads's, for any
    strings (lone surrogates, NUL, digits and brackets inside strings) and any nesting (which the scan
    still decides), and refusals still fall back."""
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        try:
            expected = json.loads(raw)
        except ValueError as e:
            with pytest.raises(type(e)):
                loads(raw)
            continue
        got = loads(raw)
        assert got == expected and type(got) is type(expected)


_proof_texts = st.lists(
    st.binary(min_size=0, max_size=40).map(lambda b: base64.b64encode(b).decode())
    | st.sampled_from(["YWI", "YW I=", "YWI=\n", "YWI-", "é", "=YWI", ""])
    | st.just(b"YWI="),  # bytes: strict a2b would take them, _b64 must refuse them
    max_size=12,
)


def _canonical_base64(text: str) -> bool:
    try:
        return base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    except ValueError:
        return False


@given(_proof_texts)
def test_inclusion_proofs_decode_as_each_b64_would(texts: list[Any]) -> None:
    """Step 5 decodes a proof's hashes in one comprehension when all are strict base64 strings; any
    other proof goes element by element through ``_b64``, which decides (and names the field)."""
    fast = steps._strict_hashes(tuple(texts))
    plain: list[bytes] | None = []
    for text in texts:
        try:
            assert plain is not None
            plain.append(steps._b64(text, "events[0].inclusionProof"))
        except ValidationError:
            plain = None
            break
    if fast is not None:  # otherwise step 5 takes the element-by-element path, which is ``plain``
        assert fast == plain
    if all(type(t) is str and _canonical_base64(t) for t in texts):
        assert fast is not None  # well-formed proofs take the fast path


def test_prechecked_marks_only_what_the_walk_would_keep() -> None:
    tree = canonical._jcs_numbers({"a": [1.0, {"b": 2.5}], "c": {"d": "é"}, "e": 3})
    marked = canonical.prechecked(tree)
    assert type(marked["a"]) is canonical._CheckedList and type(marked["c"]) is canonical._CheckedDict
    assert (
        canonical_bytes(marked)
        == reference_canonical_bytes(tree)
        == b'{"a":[1,{"b":2.5}],"c":{"d":"\xc3\xa9"},"e":3}'
    )


def _prepared(signed: dict[str, Any]) -> dict[str, Any]:
    """The vector as step 1 hashes it: its unsigned members prepared by ``reveal_signed``."""
    body = {k: v for k, v in signed.items() if k != "proof"}
    _, _, prepared = reveal_signed(body, [])
    assert prepared is not None
    return {**prepared, "proof": signed["proof"]}


def test_the_w3c_vector_verifies_as_step_1_prepares_it_and_any_change_fails() -> None:
    pair, signed = require_vectors()
    key = public_key_from_multibase(pair["publicKeyMultibase"])
    assert verify_proof(_prepared(signed), key).ok
    for path in VECTOR_LEAVES:
        if path[0] == "proof":
            continue
        assert not verify_proof(_prepared(changed(signed, path, set_other)), key).ok, path


# --- the steps -----------------------------------------------------------------------------------------


def _reports(presentation: dict[str, Any], trusted: TrustedKeys) -> tuple[Any, Any]:
    """Step 1 with the disclosures (as verify_certificate runs it) and without (the plain path)."""
    fast = verify_certificate(presentation, trusted, witness_threshold=2, now=NOW)
    state = steps._State()
    plain: list[tuple[int, bool, str]] = []
    credential, disclosures = presentation.get("credential"), presentation.get("disclosures", [])
    calls: tuple[Callable[[], tuple[bool, str]], ...] = (
        lambda: steps._proof(credential, trusted, state),
        lambda: steps._disclosures(credential, disclosures, state),
    )
    for number, call in enumerate(calls, start=1):
        try:
            plain.append((number, *call()))
        except steps.StepFailedError as e:
            plain.append((number, False, e.detail))
            break
        except RaretraceError as e:
            plain.append((number, False, str(e)))
            break
    return [(s.number, s.ok, s.detail) for s in fast.steps[:2]], plain


def _with_disclosure_byte_flipped(presentation: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(presentation)
    text = changed["disclosures"][0]
    changed["disclosures"][0] = text[:-2] + ("A" if text[-2] != "A" else "B") + text[-1]
    return changed


def test_steps_1_and_2_report_what_the_plain_path_reports(issued: Any) -> None:  # noqa: F811
    """Valid, tampered (signed values, numbers, disclosures) and malformed presentations: the first two
    steps say the same as when step 1 hashes the credential alone and step 2 reveals it afresh."""
    _, presentation, trusted = issued
    origin = presentation["credential"]["credentialSubject"]["shipment"]["lots"][0]["origin"]
    element = next(iter(origin))
    stage = next(iter(origin[element]["location"]))
    country = next(iter(origin[element]["location"][stage]))

    def share(value: Any) -> Any:
        def change(p: dict[str, Any]) -> None:
            lot = p["credential"]["credentialSubject"]["shipment"]["lots"][0]
            lot["origin"][element]["location"][stage][country] = value

        return change

    variants = {
        "as issued": lambda p: None,
        "1.0 written as 1 (the same JCS)": share(1),
        "a share changed": share(0.5),
        "a share as a string": share("1"),
        "a huge share": share(1e300),
        "a tuple where an array was": lambda p: p["credential"].update(type=tuple(p["credential"]["type"])),
        "a subject field": lambda p: p["credential"]["credentialSubject"]["shipment"].update(parcels=2),
        "a disclosure given twice": lambda p: p["disclosures"].append(p["disclosures"][0]),
        "a forged disclosure": lambda p: p["disclosures"].append(make_disclosure("massKg", 1)),
        "disclosures not strings": lambda p: p.update(disclosures=[1]),
        "a digest not a string": lambda p: p["credential"]["credentialSubject"]["_sd"].append(["x"]),
    }
    for name, change in variants.items():
        changed = copy.deepcopy(presentation)
        change(changed)
        fast, plain = _reports(changed, trusted)
        assert fast == plain, name
    flipped = _with_disclosure_byte_flipped(presentation)
    fast, plain = _reports(flipped, trusted)
    assert fast == plain
    assert check(flipped, trusted)[1] == "disclosures"
    ok, step, _ = check(copy.deepcopy(presentation), trusted)
    assert ok, step


def test_an_unverified_credential_shows_nothing(issued: Any) -> None:  # noqa: F811
    """Step 1 reveals before the signature is checked; a credential that fails it shows nothing."""
    _, presentation, trusted = issued
    forged = copy.deepcopy(presentation)
    forged["credential"]["credentialSubject"]["certificateNumber"] = "XX-0000"
    report = verify_certificate(forged, trusted, witness_threshold=2, now=NOW)
    failed = report.failed()
    assert not report.ok and failed is not None and failed.name == "credential proof"
    assert report.shown == {} and report.hidden == 0


# --- issue #23: random tampering against the reference path -------------------------------------------


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and element of a decoded JSON document, by path."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*path, key))
        found.extend(_paths(item, (*path, key)))
    return found


_replacements: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, 0, 1, -1, 1.0, 0.5, -0.0, 1e-6, 1e16, 2**60, float("nan"), "", "x", "_sd", [], {}, (1,)]
)


def _tampered(presentation: dict[str, Any], data: Any) -> dict[str, Any]:
    """The presentation with one random change: a member or element replaced, removed or given a
    neighbour, or the disclosures dropped, repeated, forged or altered."""
    changed = copy.deepcopy(presentation)
    kind = data.draw(st.sampled_from(["replace", "remove", "add", "disclosures"]))
    if kind == "disclosures":
        listed = changed["disclosures"]
        i = data.draw(st.integers(0, len(listed) - 1))
        how = data.draw(st.sampled_from(["drop", "repeat", "forge", "flip"]))
        if how == "drop":
            del listed[i]
        elif how == "repeat":
            listed.append(listed[i])
        elif how == "forge":
            listed.append(make_disclosure(data.draw(st.sampled_from(["massKg", "exporter", "x"])), 1))
        else:
            text = listed[i]
            at = data.draw(st.integers(0, len(text) - 1))
            listed[i] = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]
        return changed
    path = data.draw(st.sampled_from(_paths(changed["credential"])))
    parent = changed["credential"]
    for key in path[:-1]:
        parent = parent[key]
    if kind == "replace":
        parent[path[-1]] = data.draw(_replacements)
    elif kind == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.sampled_from(["_sd", "...", "extra", "_sd_alg"]))] = data.draw(_replacements)
    else:
        parent.insert(path[-1], data.draw(_replacements | st.just({"...": "AAAA"})))
    return changed


def _reference_jcs(value: object) -> bytes:
    """JCS by ``rfc8785`` alone, refusing as ``canonical_bytes`` refuses (the same message)."""
    import rfc8785

    try:
        return reference_canonical_bytes(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e


def _report_outcome(presentation: dict[str, Any], trusted: TrustedKeys) -> tuple[Any, ...]:
    report = verify_certificate(presentation, trusted, witness_threshold=2, now=NOW)
    steps_said = tuple((s.number, s.ok, s.detail) for s in report.steps)
    return steps_said, repr(report.shown), report.hidden


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_tampering_is_judged_as_the_reference_path_judges_it(
    issued: Any,  # noqa: F811
    data: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The verifier with its fast paths and the verifier on the reference paths (``reveal``, which
    copies and walks everything, and the credential hashed by ``rfc8785`` itself) give the same
    report, step by step and word for word, with the same document shown, for the issued certificate
    and for random tamperings of it: nothing the reference path refused is accepted, and nothing it
    accepted is refused."""
    from raretrace.crypto import dataintegrity

    _, presentation, trusted = issued
    changed = _tampered(presentation, data)
    fast = _report_outcome(changed, trusted)
    with monkeypatch.context() as m:
        m.setattr(steps, "reveal_signed", lambda body, given: (*reveal(body, given), None))
        m.setattr(dataintegrity, "canonical_bytes", _reference_jcs)
        reference = _report_outcome(changed, trusted)
    assert fast == reference
    if changed["credential"] != presentation["credential"]:
        assert not fast[0][0][1]  # any change to the signed credential fails step 1
