"""Check one assay: which deposits it resembles, whether it matches none, whether its declared origin holds.

Identification and verification are separate questions (as in BGR's Analytical Fingerprint): the candidates
answer "which deposit?", the status answers "is the declared origin plausible?". The status is

* ``inconsistent`` when the declared deposit(s) explain the chemistry with p < ALPHA (false-rejection rate
  ALPHA for a sample truly from there), or another library deposit explains it at least 100 times better
  (likelihood ratio < 0.01);
* ``consistent`` when neither holds;
* ``indeterminate`` when the informative features are missing, the library has no reference for them at the
  declared origin, or the declared country has a deposit the sample cannot be compared with.

What can speak depends on the form. Separation erases the ore's rare-earth pattern: for separated oxides,
metals, alloys, magnets and everything made of them only the Nd isotope ratio (unchanged by chemistry, only by
blending) can speak; Sr and Pb then come from reagents and alloying feed and are not used. Impurity profiles
could speak too, but the library has none, so none is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np

from raretrace.elements import parse_component
from raretrace.errors import ValidationError
from raretrace.fingerprint.features import BELOW_DL_FRACTION, describe, pattern_vector
from raretrace.fingerprint.isotopes import epsilon_nd
from raretrace.fingerprint.library import REY, load_library
from raretrace.fingerprint.model import ALPHA, FingerprintModel, default_model
from raretrace.model import Form, parse_enum

PATTERN_FORMS: Final = frozenset({Form.ORE, Form.CONCENTRATE, Form.MIXED_OXIDE})
#: A likelihood ratio below this (declared vs the other library deposits) is inconsistent, but only where
#: every declared deposit has a near-complete reference pattern (``Deposit.complete_pattern``): against a
#: partial reference a low ratio measures the library's ignorance, not the sample.
LR_INCONSISTENT: Final = 0.01
#: Isotope keys an assay may carry; the value says what the library can do with it.
ISOTOPE_KEYS: Final = {
    "eNd": "used",
    "143Nd/144Nd": "used (as present-day epsilon-Nd, CHUR 0.512630)",
    "87Sr/86Sr": "used for ore and concentrate",
    "206Pb/204Pb": "no reference data in the library",
    "207Pb/204Pb": "no reference data in the library",
    "208Pb/204Pb": "no reference data in the library",
}
_TOP: Final = 3


@dataclass(frozen=True)
class Candidate:
    deposit: str
    name: str
    countries: tuple[str, ...]
    probability: float
    p_value: float | None
    approximate_reference: bool


@dataclass(frozen=True)
class FingerprintResult:
    form: str
    declared: str | None
    status: str | None  # consistent | inconsistent | indeterminate; None when nothing was declared
    basis: str  # rey_pattern | rey_pattern+isotopes | isotopes | none
    candidates: tuple[Candidate, ...]
    unknown: bool
    p_value: float | None
    likelihood_ratio: float | None
    tested_deposits: tuple[str, ...]
    features_used: tuple[str, ...]
    features_missing: tuple[str, ...]
    features_ignored: Mapping[str, str]
    false_rejection_rate: float
    explanation: str
    descriptors: Mapping[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["candidates"] = [asdict(c) | {"countries": list(c.countries)} for c in self.candidates]
        out["tested_deposits"] = list(self.tested_deposits)
        out["features_used"] = list(self.features_used)
        out["features_missing"] = list(self.features_missing)
        out["features_ignored"] = dict(self.features_ignored)
        return out


def _split(
    assay: Mapping[str, float], detection_limits: Mapping[str, float] | None
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """(REY ppm with censored values imputed, isotopes, ignored keys with reasons)."""
    rey: dict[str, float] = {}
    isotopes: dict[str, float] = {}
    ignored: dict[str, str] = {}
    for key, value in assay.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"must be a finite number, got {value!r}", field=str(key))
        if key in ISOTOPE_KEYS:
            isotopes[key] = float(value)
            continue
        symbol = parse_component(key)
        if value < 0:
            raise ValidationError(f"a concentration cannot be negative, got {value}", field=key)
        if symbol in REY:
            rey[symbol] = float(value)
        else:
            ignored[symbol] = "no reference data for it in the library"
    for key, limit in (detection_limits or {}).items():
        symbol = parse_component(key)
        if not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
            raise ValidationError(f"a detection limit must be > 0, got {limit!r}", field=key)
        if symbol in REY and rey.get(symbol, 0.0) <= 0.0:
            rey[symbol] = BELOW_DL_FRACTION * float(limit)
    if "143Nd/144Nd" in isotopes:
        if "eNd" in isotopes:
            raise ValidationError("give eNd or 143Nd/144Nd, not both", field="143Nd/144Nd")
        isotopes["eNd"] = epsilon_nd(isotopes.pop("143Nd/144Nd"))
    return rey, isotopes, ignored


def _informative(
    model: FingerprintModel,
    the_form: Form,
    rey: dict[str, float],
    isotopes: dict[str, float],
    ignored: dict[str, str],
) -> tuple[np.ndarray[Any, Any], list[str], list[str], bool, str]:
    """(feature vector, features used, informative features missing, pattern used, basis); records in
    ``ignored`` what this form cannot use and why."""
    space = model.space
    x = np.full(len(space), np.nan)
    used: list[str] = []
    missing: list[str] = []
    pattern = the_form in PATTERN_FORMS
    if pattern:
        absent = [e for e in REY if rey.get(e, 0.0) <= 0.0]
        if absent:
            missing.append(f"REY pattern (no value or detection limit for {', '.join(absent)})")
            pattern = False
        else:
            x[:] = space.from_ppm(pattern_vector(rey)[None, :])[0]
            used += list(space.names[: len(REY)])
    elif rey:
        ignored.update(dict.fromkeys(rey, f"separation erases the ore's pattern in a {the_form}"))
    if "eNd" in isotopes:
        x[space.index["eNd"]] = isotopes["eNd"]
        used.append("eNd")
    else:
        missing.append("eNd (present-day epsilon-Nd)")
    if "87Sr/86Sr" in isotopes and the_form in PATTERN_FORMS:
        x[space.index["87Sr/86Sr"]] = isotopes["87Sr/86Sr"]
        used.append("87Sr/86Sr")
    elif "87Sr/86Sr" in isotopes:
        ignored["87Sr/86Sr"] = f"in a {the_form} Sr comes from reagents and feed, not the ore"
    for key in ("206Pb/204Pb", "207Pb/204Pb", "208Pb/204Pb"):
        if key in isotopes:
            ignored[key] = ISOTOPE_KEYS[key]
    basis = "rey_pattern" if pattern else ""
    if "eNd" in used or "87Sr/86Sr" in used:
        basis = f"{basis}+isotopes" if basis else "isotopes"
    return x, used, missing, pattern, basis or "none"


def check_assay(
    assay: Mapping[str, float],
    form: str,
    declared: str | None = None,
    *,
    detection_limits: Mapping[str, float] | None = None,
    model: FingerprintModel | None = None,
    descriptors: bool = True,
) -> FingerprintResult:
    """Fingerprint one assay: element ppm (plus optional isotopes ``eNd`` = present-day epsilon-Nd,
    ``143Nd/144Nd``, ``87Sr/86Sr``, Pb ratios) of material of ``form``, optionally against a declared
    origin (deposit id or name, or ISO 3166-1 alpha-2 country). ``descriptors=False`` skips the pyrolite
    descriptors (``check_samples`` computes them for a whole batch at once)."""
    # 1. Inputs: the form, the values, the declared origin (resolved before any work).
    the_form = parse_enum(Form, form, "form")
    model = model or default_model()
    library = load_library()
    kind, declared_deposits = library.resolve(declared) if declared is not None else ("", ())
    rey, isotopes, ignored = _split(assay, detection_limits)

    # 2. What can speak for this form.
    x, used, missing, pattern, basis = _informative(model, the_form, rey, isotopes, ignored)

    # 3. Score: identification needs the pattern; isotopes alone only test a declared origin.
    comparable: np.ndarray[Any, Any] = np.asarray(model.known[:, ~np.isnan(x)].any(axis=1))
    candidates: tuple[Candidate, ...] = ()
    unknown = False
    log_p = np.full(len(model.deposits), np.nan)
    prob = np.zeros(len(model.deposits))
    if basis != "none":
        scores = model.scores(x[None, :], among=comparable[None, :])
        log_p, prob = scores.log_p[0], scores.probabilities[0]
    if pattern:
        unknown = bool(scores.unknown[0])
        order = np.argsort(-prob)[:_TOP]
        candidates = tuple(
            Candidate(
                model.deposits[i].id, model.deposits[i].name, model.deposits[i].countries,
                round(float(prob[i]), 6), None if np.isnan(log_p[i]) else float(math.exp(log_p[i])),
                model.deposits[i].approximate,
            )
            for i in order
            if prob[i] >= 1e-4
        )  # fmt: skip

    # 4. The declared-origin test.
    status: str | None = None
    p_value: float | None = None
    ratio: float | None = None
    tested: tuple[str, ...] = ()
    reason = ""
    if declared is not None:
        status, p_value, ratio, tested, reason = _declared_test(
            model, kind, declared_deposits, comparable, log_p, prob, pattern, basis
        )
    described = describe(rey) if pattern and descriptors else None
    partial_fits = tuple(
        d.name for i, d in enumerate(model.deposits) if not model.vouch[i] and log_p[i] >= math.log(ALPHA)
    )
    explanation = _explain(
        the_form.value, basis, candidates, unknown, declared, status, p_value, ratio, reason, missing
    )
    if unknown and partial_fits:
        explanation += (
            f" It does fit the partial references of {', '.join(partial_fits)}, which give too few figures "
            "to vouch for a sample."
        )
    return FingerprintResult(
        form=the_form.value, declared=declared, status=status, basis=basis, candidates=candidates,
        unknown=unknown, p_value=p_value, likelihood_ratio=ratio, tested_deposits=tested,
        features_used=tuple(used), features_missing=tuple(missing), features_ignored=ignored,
        false_rejection_rate=ALPHA, explanation=explanation, descriptors=described,
    )  # fmt: skip


def _declared_test(
    model: FingerprintModel,
    kind: str,
    declared_deposits: tuple[Any, ...],
    comparable: np.ndarray[Any, Any],
    log_p: np.ndarray[Any, Any],
    prob: np.ndarray[Any, Any],
    pattern: bool,
    basis: str,
) -> tuple[str, float | None, float | None, tuple[str, ...], str]:
    ids = [d.id for d in model.deposits]
    wanted = [ids.index(d.id) for d in declared_deposits if d.id in ids]
    if basis == "none":
        return "indeterminate", None, None, (), "the informative features are missing"
    if not wanted:
        where = "that country" if kind == "country" else "that deposit"
        return "indeterminate", None, None, (), f"the library holds no reference for {where}"
    testable = [i for i in wanted if comparable[i]]
    untestable = [ids[i] for i in wanted if not comparable[i]]
    if not testable:
        return "indeterminate", None, None, (), "the library has no reference figures for the features given"
    p = float(math.exp(float(np.nanmax(log_p[testable]))))
    ratio: float | None = None
    others = [i for i in range(len(ids)) if i not in wanted and comparable[i]]
    if pattern and others:
        # Bayes factor: posterior odds over prior odds (uniform prior over deposits)
        inside, outside = float(prob[wanted].sum()), float(prob[others].sum())
        prior = len(wanted) / len(others)
        ratio = (inside / max(outside, 1e-300)) / prior  # finite, so the result stays valid JSON
    tested = tuple(ids[i] for i in testable)
    outweighed = ratio is not None and ratio < LR_INCONSISTENT
    if p >= ALPHA and outweighed and not all(model.deposits[i].complete_pattern for i in wanted):
        return (
            "indeterminate",
            p,
            ratio,
            tested,
            (
                "the chemistry fits the declared reference, but other deposits explain it far better and the "
                "declared reference is too incomplete to tell"
            ),
        )
    bad = p < ALPHA or outweighed
    if bad and untestable:
        return "indeterminate", p, ratio, tested, f"no reference to compare with for {', '.join(untestable)}"
    return ("inconsistent" if bad else "consistent"), p, ratio, tested, ""


def _explain(
    form: str,
    basis: str,
    candidates: tuple[Candidate, ...],
    unknown: bool,
    declared: str | None,
    status: str | None,
    p_value: float | None,
    ratio: float | None,
    reason: str,
    missing: list[str],
) -> str:
    parts: list[str] = []
    if basis == "none":
        parts.append(
            f"Nothing informative to compare for a {form}: "
            + ("separation erases the ore's rare-earth pattern, so only isotopes could speak, and "
               if form not in {f.value for f in PATTERN_FORMS} else "")
            + f"missing: {'; '.join(missing)}."
        )  # fmt: skip
    elif not candidates:
        parts.append(
            f"For a {form} only isotopes can speak; they test a declared origin but cannot name one."
        )
    elif unknown:
        parts.append(
            "The sample matches no deposit in the library (no deposit both fits it and explains it better "
            f"than rare-earth material in general, at a {ALPHA:g} false-rejection rate); the closest is "
            f"{candidates[0].name} at probability {candidates[0].probability:.2f}."
        )
    else:
        top = candidates[0]
        parts.append(f"Most like {top.name} ({', '.join(top.countries)}), probability {top.probability:.2f}.")
        if form == Form.MIXED_OXIDE.value:
            parts.append("A mixed oxide keeps its ore's pattern only if no element (often Ce) was removed.")
        if top.approximate_reference:
            parts.append("Its reference figures are approximate (recalled or secondary), not verified.")
    if declared is not None:
        p_text = "" if p_value is None else f" (p = {p_value:.3g}"
        p_text += "" if ratio is None else f", likelihood ratio vs other deposits = {ratio:.3g}"
        p_text += ")" if p_text else ""
        parts.append(f"Declared origin {declared!r}: {status}{p_text}" + (f"; {reason}." if reason else "."))
    return " ".join(parts)
