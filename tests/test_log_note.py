"""C2SP signed notes and tlog checkpoints: keys, signing, opening, and every malformed input named."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ProofError, RaretraceError, ValidationError
from raretrace.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from raretrace.log.note import (
    NoteVerifier,
    check_key_name,
    key_hash,
    open_note,
    parse_signature_line,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signer_key_text,
    split_note,
    verifier_key_text,
)

ALICE = Ed25519Signer.from_seed(b"\x01" * 32)
BOB = Ed25519Signer.from_seed(b"\x02" * 32)
TEXT = "hello\n\nworld\n"  # an empty line inside the text is allowed


def verifier(name: str, signer: Ed25519Signer) -> NoteVerifier:
    return NoteVerifier(name, signer.public_key)


# --- keys ----------------------------------------------------------------------------------------


def test_key_texts_round_trip() -> None:
    text = verifier_key_text("alice.example/log", ALICE.public_key)
    name, public = parse_verifier_key(text)
    assert (name, public) == ("alice.example/log", ALICE.public_key)
    assert parse_verifier_key(text).key_text() == text
    assert text.split("+")[1] == key_hash("alice.example/log", 1, ALICE.public_key).hex()
    secret = signer_key_text("alice.example/log", ALICE)
    name, signer = parse_signer_key(secret)
    assert name == "alice.example/log" and signer.public_key == ALICE.public_key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("alice", "name\\+hash\\+base64key"),
        ("alice+c74f20a3", "name\\+hash\\+base64key"),
        ("ali ce+c74f20a3+AAAA", "spaces"),
        ("+c74f20a3+AAAA", "non-empty"),
        ("alice+c74f20a+AAAA", "8 hex digits"),
        ("alice+c74f20ag+AAAA", "8 hex digits"),
        ("alice+c74f20a3+!!!!", "not valid base64"),
        ("alice+c74f20a3+AQ", "not valid base64"),
    ],
)
def test_bad_verifier_keys_are_named(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_verifier_key(text)


def test_verifier_key_type_length_and_hash_are_checked() -> None:
    good = verifier_key_text("alice", ALICE.public_key)
    name, hash_hex, key64 = good.split("+", 2)
    raw = base64.b64decode(key64)
    wrong_type = base64.b64encode(b"\x04" + raw[1:]).decode()
    with pytest.raises(ValidationError, match="key type is 0x04, expected 0x01"):
        parse_verifier_key(f"{name}+{hash_hex}+{wrong_type}")
    with pytest.raises(ValidationError, match="32 bytes, got 31"):
        parse_verifier_key(f"{name}+{hash_hex}+{base64.b64encode(raw[:-1]).decode()}")
    with pytest.raises(ValidationError, match="does not match"):
        parse_verifier_key(f"bob+{hash_hex}+{key64}")
    with pytest.raises(ValidationError, match="does not match"):
        parse_signer_key(signer_key_text("alice", ALICE).replace("alice", "bob"))
    with pytest.raises(ValidationError, match="PRIVATE\\+KEY"):
        parse_signer_key(good)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0x", "line\nbreak", "\x01"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(ValidationError):
        check_key_name(name)
    with pytest.raises(ValidationError):
        sign_note(TEXT, [(name, ALICE)])


# --- signing and opening -------------------------------------------------------------------------


def test_sign_and_open_with_several_keys() -> None:
    note = sign_note(TEXT, [("alice", ALICE), ("bob", BOB)])
    assert note.startswith(TEXT + "\n— alice ")
    opened = open_note(note, [verifier("alice", ALICE), verifier("bob", BOB)])
    assert opened == (TEXT, ["alice", "bob"])
    text, names = opened
    assert (text, names, opened.unknown) == (TEXT, ["alice", "bob"], [])


def test_unknown_signatures_are_ignored_but_reported() -> None:
    note = sign_note(TEXT, [("alice", ALICE), ("bob", BOB)])
    opened = open_note(note, [verifier("alice", ALICE)])
    assert opened.signers == ["alice"]
    assert [s.name for s in opened.unknown] == ["bob"]
    # Same name, other key: unknown, not a failure (C2SP: ignore unless name AND hash match).
    impostor = sign_note(TEXT, [("alice", BOB), ("alice", ALICE)])
    opened = open_note(impostor, [verifier("alice", ALICE)])
    assert opened.signers == ["alice"] and len(opened.unknown) == 1


def test_no_trusted_signature_is_a_proof_error() -> None:
    note = sign_note(TEXT, [("bob", BOB)])
    with pytest.raises(ProofError, match="no signature by a trusted key \\(signed by bob\\+"):
        open_note(note, [verifier("alice", ALICE)])
    with pytest.raises(ProofError, match="no signature by a trusted key"):
        open_note(note, [])


def test_a_bad_signature_by_a_known_key_rejects_the_note() -> None:
    note = sign_note(TEXT, [("alice", ALICE), ("bob", BOB)])
    forged = sign_note("hello\n\nworld!\n", [("bob", BOB)]).split("\n\n")[-1]
    tampered = note.replace(note.split("\n")[-2] + "\n", forged)
    with pytest.raises(ProofError, match="signature by bob\\+[0-9a-f]{8} does not verify"):
        open_note(tampered, [verifier("alice", ALICE), verifier("bob", BOB)])
    changed_text = note.replace("world", "World")
    with pytest.raises(ProofError, match="does not verify"):
        open_note(changed_text, [verifier("alice", ALICE)])


def test_repeated_signatures_count_once() -> None:
    note = sign_note(TEXT, [("alice", ALICE)])
    doubled = note + note.split("\n\n")[-1]
    assert open_note(doubled, [verifier("alice", ALICE)]).signers == ["alice"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no newline", "end with a newline"),
        ("tab\there\n", "not allowed"),
        ("cr\r\n", "not allowed"),
        ("", "newline"),
    ],
)
def test_bad_note_texts(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        sign_note(text, [("alice", ALICE)])


def test_signing_needs_a_signer() -> None:
    with pytest.raises(ValidationError, match="at least one signer"):
        sign_note(TEXT, [])


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        ("text\n— a AAAAAAAA\n", "no blank line"),
        ("text\n\n", "end with signature lines"),
        ("text\n\n— a AAAAAAAA", "end with signature lines"),
        ("text\n\n- a AAAAAAAA\n", "does not start with"),
        ("text\n\n— a\n", "too short"),
        ("text\n\n— a AAAA\n", "too short"),
        ("text\n\n— a AAAAAAB=\n", "not canonical"),
        ("text\n\n— a A AAA\n", "not valid base64"),
        ("text\n\n— a+b AAAAAAAA\n", "not allowed"),
        ("te\x00xt\n\n— a AAAAAAAA\n", "not allowed"),
        (b"text\xff\n\n\xe2\x80\x94 a AAAAAAAA\n", "UTF-8"),
        ("text\n\n" + "— a AAAAAAAA\n" * 101, "more than 100"),
    ],
)
def test_malformed_notes_are_named(note: str | bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        open_note(note, [verifier("alice", ALICE)])


def test_split_and_signature_lines() -> None:
    note = sign_note(TEXT, [("alice", ALICE)])
    text, lines = split_note(note)
    assert text == TEXT and len(lines) == 1
    sig = parse_signature_line(lines[0] + "\n")
    assert (
        sig.name == "alice" and sig.key_hash == verifier("alice", ALICE).key_hash and len(sig.signature) == 64
    )
    assert sig.line == lines[0]


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]) | st.just("\n"), max_size=60))
def test_any_valid_text_round_trips(body: str) -> None:
    text = body + "\n"
    assert open_note(sign_note(text, [("alice", ALICE)]), [verifier("alice", ALICE)]).text == text


# --- checkpoints ---------------------------------------------------------------------------------

ROOT = bytes(range(32))
ORIGIN = "registry.example.org/rare-earths"


def test_checkpoint_text_round_trips() -> None:
    cp = Checkpoint(ORIGIN, 20852163, ROOT, ("ext one", "ext two"))
    assert cp.to_text() == f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\next one\next two\n"
    assert Checkpoint.parse(cp.to_text()) == cp
    assert Checkpoint.parse(Checkpoint(ORIGIN, 0, ROOT).to_text()).size == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}", "end with a newline"),
        (f"{ORIGIN}\n5\n", "at least an origin, a size and a root hash"),
        (f"\n5\n{base64.b64encode(ROOT).decode()}\n", "origin line must be a non-empty"),
        (f"{ORIGIN}\n05\n{base64.b64encode(ROOT).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n-5\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n5a\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n", "2\\^64-1"),
        (f"{ORIGIN}\n5\nnot base64!\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\n\n", "extension line must be a non-empty"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\nbad\tline\n", "not allowed"),
    ],
)
def test_checkpoint_parse_errors_are_named(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Checkpoint.parse(text)


def test_checkpoint_invariants_hold_on_construction() -> None:
    for args in [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, 2**64, ROOT),
        (ORIGIN, 1, ROOT[:5]),
    ]:
        with pytest.raises(ValidationError):
            Checkpoint(*args)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Checkpoint(ORIGIN, True, ROOT)
    with pytest.raises(ValidationError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))


def test_signed_checkpoints_open_with_the_log_key() -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    note = sign_checkpoint(cp, ORIGIN, ALICE)
    assert open_checkpoint(note, ORIGIN, ALICE.public_key) == cp
    assert open_checkpoint(note, verifier_key_text(ORIGIN, ALICE.public_key)) == cp
    assert open_checkpoint(note, NoteVerifier(ORIGIN, ALICE.public_key)) == cp
    with pytest.raises(ProofError, match="no signature by a trusted key"):
        open_checkpoint(note, ORIGIN, BOB.public_key)
    with pytest.raises(ProofError, match="does not verify"):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), ORIGIN, ALICE.public_key)
    other = sign_checkpoint(cp, "other.example/log", ALICE)
    with pytest.raises(ProofError, match="is for origin"):
        open_checkpoint(other, "other.example/log", ALICE.public_key)
    assert open_checkpoint(other, "other.example/log", ALICE.public_key, origin=ORIGIN) == cp
    with pytest.raises(ValidationError):
        open_checkpoint(note, NoteVerifier(ORIGIN, ALICE.public_key), ALICE.public_key)


def test_a_signed_note_that_is_not_a_checkpoint_is_rejected() -> None:
    note = sign_note("just a note\n", [(ORIGIN, ALICE)])
    with pytest.raises(RaretraceError, match="at least an origin"):
        open_checkpoint(note, ORIGIN, ALICE.public_key)
