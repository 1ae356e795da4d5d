"""Ed25519 backends: libsodium (the fastest, chosen by default) and OpenSSL (the fallback) agree.

Expected values come from RFC 8032 §7.1 (TEST 1 and TEST 2), not from either implementation; the two
backends are then checked against each other as independent second implementations.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from raretrace.crypto import ed25519
from raretrace.crypto.keys import Ed25519Signer, PublicKey

# RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]

BACKENDS = list(ed25519.BACKENDS.values())


def test_libsodium_is_installed_and_chosen() -> None:
    # PyNaCl is a dependency: the default must be the fastest backend, OpenSSL kept beside it.
    assert list(ed25519.BACKENDS) == ["libsodium", "openssl"]
    assert ed25519.BACKEND.name == "libsodium"
    assert ed25519.verify == ed25519.BACKENDS["libsodium"].verify


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(
    backend: ed25519.Ed25519Backend, seed: str, public: str, message: str, signature: str
) -> None:
    s, pk, msg, sig = (bytes.fromhex(x) for x in (seed, public, message, signature))
    assert backend.public_from_seed(s) == pk
    assert backend.sign(s, msg) == sig
    assert backend.verify(pk, sig, msg)
    tampered = bytes([sig[0] ^ 1]) + sig[1:]
    assert not backend.verify(pk, tampered, msg)
    assert not backend.verify(pk, sig, msg + b"x")


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_malformed_inputs_are_refused_not_raised(backend: ed25519.Ed25519Backend) -> None:
    seed = os.urandom(32)
    pk, sig = backend.public_from_seed(seed), backend.sign(seed, b"m")
    assert not backend.verify(pk, sig[:63], b"m")  # short signature
    assert not backend.verify(pk, sig + b"\0", b"m")  # long signature
    assert not backend.verify(pk[:31], sig, b"m")  # short key
    # S >= L (the group order) is refused by both (RFC 8032 §5.1.7 step 1): S + L has the same value mod L.
    order = 2**252 + 27742317777372353535851937790883648493
    s_plus_l = (int.from_bytes(sig[32:], "little") + order).to_bytes(32, "little")
    assert not backend.verify(pk, sig[:32] + s_plus_l, b"m")


def test_backends_verify_each_others_signatures() -> None:
    one, other = ed25519.BACKENDS["libsodium"], ed25519.BACKENDS["openssl"]
    for size in (0, 1, 64, 1000):
        seed, message = os.urandom(32), os.urandom(size)
        assert one.sign(seed, message) == other.sign(seed, message)
        assert other.verify(one.public_from_seed(seed), one.sign(seed, message), message)
        assert one.verify(other.public_from_seed(seed), other.sign(seed, message), message)


def test_signer_and_public_key_use_the_chosen_backend() -> None:
    signer = Ed25519Signer.from_seed(bytes.fromhex(RFC8032[1][0]))
    assert signer.public_key.hex() == RFC8032[1][1]
    assert signer.sign(b"\x72").hex() == RFC8032[1][3]
    assert PublicKey(signer.public_key).is_valid(signer.sign(b"abc"), b"abc")
    assert not PublicKey(signer.public_key).is_valid(signer.sign(b"abc"), b"abd")


def test_openssl_can_be_forced_for_comparison_runs() -> None:
    code = "from raretrace.crypto import ed25519; print(ed25519.BACKEND.name)"
    env = {**os.environ, ed25519.BACKEND_ENV: "openssl"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "openssl"
    env[ed25519.BACKEND_ENV] = "nonsense"
    bad = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "installed backends are" in bad.stderr
