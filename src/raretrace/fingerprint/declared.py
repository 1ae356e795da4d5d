"""Check one assay: which deposits it resembles, whether it matches none, whether its declared origin holds.

Identification and verification are separate questions (as in BGR's Analytical Fingerprint): the candidates
answer "which deposit?" (the first candidate is always a deposit whose reference can vouch for a sample;
partial references follow, flagged ``can_vouch=False``), the status answers "is the declared origin
plausible?" (``decision.declared_verdicts``: the rules and their error rates). Values below detection are
censored in the likelihood, never replaced by a number.

What can speak depends on the form. Separation erases the ore's rare-earth pattern: for separated oxides,
metals, alloys, magnets and everything made of them only the Nd isotope ratio (unchanged by chemistry, only by
blending) can speak; Sr and Pb then come from reagents and alloying feed and are not used. Th/U and Nb/Ta
(``trace_ratios``) speak for ore and concentrate where the library has a figure for them; other impurity
profiles could speak too, but the library has none, so none is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from raretrace.elements import parse_component
from raretrace.errors import ValidationError
from raretrace.fingerprint.decision import declared_verdicts
from raretrace.fingerprint.features import BELOW_DL_FRACTION, FeatureSpace, Observed, describe, pattern_vector
from raretrace.fingerprint.isotopes import CHUR_143_144, epsilon_nd
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.mixture import best_mixtures
from raretrace.fingerprint.model import ALPHA, FingerprintModel, Scores, default_model
from raretrace.fingerprint.trace_ratios import TRACE_ELEMENTS, TRACE_RATIOS, log_ratios
from raretrace.model import Form, parse_enum

PATTERN_FORMS: Final = frozenset({Form.ORE, Form.CONCENTRATE, Form.MIXED_OXIDE})
#: Forms whose Th/U and Nb/Ta are the ore's (chemical processing separates those elements from the REE).
RATIO_FORMS: Final = frozenset({Form.ORE, Form.CONCENTRATE})
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
    can_vouch: bool = True  # a partial reference can be listed, never ranked first over one that can


@dataclass(frozen=True)
class Blend:
    """A two-deposit blend that fits where no single deposit does (``mixture.best_mixtures``): the deposits,
    their fractions of the TREO, the 95% likelihood range of the second's fraction, and the blend's
    p-value."""

    deposits: tuple[str, str]
    fraction: tuple[float, float]
    fraction_range: tuple[float, float]
    p_value: float


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
    mixture: Blend | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["candidates"] = [asdict(c) | {"countries": list(c.countries)} for c in self.candidates]
        out["tested_deposits"] = list(self.tested_deposits)
        out["features_used"] = list(self.features_used)
        out["features_missing"] = list(self.features_missing)
        out["features_ignored"] = dict(self.features_ignored)
        return out


def _split(
    assay: Mapping[str, float],
    detection_limits: Mapping[str, float] | None,
    uncertainties: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float], dict[str, str]]:
    """(REY and trace-ratio element ppm measured, REY detection limits of values below them, their 1-sigma
    uncertainties, isotopes, ignored keys with reasons)."""
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
        if symbol in REY or symbol in TRACE_ELEMENTS:
            rey[symbol] = float(value)
        else:
            ignored[symbol] = "no reference data for it in the library"
    limits: dict[str, float] = {}
    for key, limit in (detection_limits or {}).items():
        symbol = parse_component(key)
        if not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
            raise ValidationError(f"a detection limit must be > 0, got {limit!r}", field=key)
        if symbol in REY and rey.get(symbol, 0.0) <= 0.0:
            limits[symbol] = float(limit)
            rey.pop(symbol, None)
        elif symbol in TRACE_ELEMENTS and rey.get(symbol, 0.0) <= 0.0:
            rey.pop(symbol, None)  # below its limit: not measured, so no ratio with it
    sds: dict[str, float] = {}
    for key, sd in (uncertainties or {}).items():
        if not (isinstance(sd, int | float) and math.isfinite(sd) and sd >= 0):
            raise ValidationError(f"an uncertainty must be >= 0, got {sd!r}", field=key)
        if key in isotopes:
            sds[key] = float(sd)  # an isotope ratio's 1-sigma, in its own unit
            continue
        symbol = parse_component(key)
        if symbol in rey:
            sds[symbol] = float(sd)
    if "143Nd/144Nd" in isotopes:
        if "eNd" in isotopes:
            raise ValidationError("give eNd or 143Nd/144Nd, not both", field="143Nd/144Nd")
        if "143Nd/144Nd" in sds:
            sds["eNd"] = sds.pop("143Nd/144Nd") / CHUR_143_144 * 1e4  # epsilon is linear in the ratio
        isotopes["eNd"] = epsilon_nd(isotopes.pop("143Nd/144Nd"))
    return rey, limits, sds, isotopes, ignored


def _informative(
    model: FingerprintModel,
    the_form: Form,
    values: tuple[dict[str, float], dict[str, float], dict[str, float]],
    isotopes: dict[str, float],
    ignored: dict[str, str],
) -> tuple[Observed, list[str], list[str], bool, str]:
    """(features of the sample, features used, informative features missing, pattern used, basis); records
    in ``ignored`` what this form cannot use and why. ``values``: measured ppm, detection limits of the
    values below them, uncertainties."""
    rey, limits, sds = values
    space = model.space
    x = np.full(len(space), np.nan)
    cens = np.zeros(len(space), dtype=bool)
    var: NDArray[np.float64] | None = None
    used: list[str] = []
    missing: list[str] = []
    pattern = the_form in PATTERN_FORMS
    if pattern:
        absent = [e for e in REY if rey.get(e, 0.0) <= 0.0 and e not in limits]
        if absent:
            missing.append(f"REY pattern (no value or detection limit for {', '.join(absent)})")
            pattern = False
        else:
            below = np.array([e in limits for e in REY])
            obs = space.observe(
                pattern_vector(rey)[None, :],
                censored=below[None, :],
                limits=pattern_vector(limits)[None, :],
                sd_ppm=pattern_vector(sds)[None, :] if sds else None,
            )
            x[:], cens[:] = obs.x[0], obs.censored[0]
            var = None if obs.var is None else obs.var[0]
            used += list(space.names[: len(REY)])
    elif rey or limits:
        ignored.update(dict.fromkeys([*rey, *limits], f"separation erases the ore's pattern in a {the_form}"))
    own_var = np.zeros(len(space)) if var is None else var.copy()
    _add_isotopes(space, the_form, (isotopes, sds), (x, own_var), (used, missing, ignored))
    trace = {e: v for e, v in rey.items() if e in TRACE_ELEMENTS}
    _add_trace_ratios(space, the_form, (trace, sds), (x, own_var), used, ignored)
    basis = "rey_pattern" if pattern else ""
    if "eNd" in used or "87Sr/86Sr" in used:
        basis = f"{basis}+isotopes" if basis else "isotopes"
    observed = Observed(x[None, :], cens[None, :], own_var[None, :] if own_var.any() else None)
    return observed, used, missing, pattern, basis or "none"


def _add_isotopes(
    space: FeatureSpace,
    the_form: Form,
    values: tuple[dict[str, float], dict[str, float]],
    into: tuple[NDArray[np.float64], NDArray[np.float64]],
    notes: tuple[list[str], list[str], dict[str, str]],
) -> None:
    """Put the sample's epsilon-Nd (any form) and 87Sr/86Sr (pattern forms only: elsewhere Sr is the
    reagents') and their variances (``values``: isotopes and 1-sigma) into ``into`` (features, own
    variances); ``notes`` (used, missing, ignored) say what was used, what is missing and why the rest is
    not used."""
    isotopes, sds = values
    x, own_var = into
    used, missing, ignored = notes
    if "eNd" in isotopes:
        x[space.index["eNd"]] = isotopes["eNd"]
        own_var[space.index["eNd"]] = sds.get("eNd", 0.0) ** 2
        used.append("eNd")
    else:
        missing.append("eNd (present-day epsilon-Nd)")
    if "87Sr/86Sr" in isotopes and the_form in PATTERN_FORMS:
        x[space.index["87Sr/86Sr"]] = isotopes["87Sr/86Sr"]
        own_var[space.index["87Sr/86Sr"]] = sds.get("87Sr/86Sr", 0.0) ** 2
        used.append("87Sr/86Sr")
    elif "87Sr/86Sr" in isotopes:
        ignored["87Sr/86Sr"] = f"in a {the_form} Sr comes from reagents and feed, not the ore"
    for key in ("206Pb/204Pb", "207Pb/204Pb", "208Pb/204Pb"):
        if key in isotopes:
            ignored[key] = ISOTOPE_KEYS[key]


def _add_trace_ratios(
    space: FeatureSpace,
    the_form: Form,
    values: tuple[dict[str, float], dict[str, float]],
    into: tuple[NDArray[np.float64], NDArray[np.float64]],
    used: list[str],
    ignored: dict[str, str],
) -> None:
    """Put the sample's log Th/U and Nb/Ta and their variances (``values``: measured ppm and 1-sigma) into
    ``into`` (features, own variances) where both elements are measured, the form keeps them and the library
    has a figure; record in ``ignored`` why a reported trace element is not used otherwise."""
    trace, sds = values
    for name, pair in TRACE_RATIOS.items():
        given = [e for e in pair if e in trace]
        if not given:
            continue
        reason = ""
        if the_form not in RATIO_FORMS:
            reason = (
                f"chemical processing separates {' and '.join(pair)} from the rare earths in a {the_form}"
            )
        elif name not in space.ratios:
            reason = f"the library has no reference figure for {name}"
        elif len(given) < 2:
            reason = f"{name} needs both {' and '.join(pair)} measured"
        if reason:
            ignored.update(dict.fromkeys(given, reason))
            continue
        value, var = log_ratios(trace, sds, [name])
        j = space.key_index(name)
        into[0][j], into[1][j] = value[0], var[0]
        used.append(name)


def check_assay(
    assay: Mapping[str, float],
    form: str,
    declared: str | None = None,
    *,
    detection_limits: Mapping[str, float] | None = None,
    uncertainties: Mapping[str, float] | None = None,
    model: FingerprintModel | None = None,
    descriptors: bool = True,
) -> FingerprintResult:
    """Fingerprint one assay: element ppm (plus optional isotopes ``eNd`` = present-day epsilon-Nd,
    ``143Nd/144Nd``, ``87Sr/86Sr``, Pb ratios) of material of ``form``, optionally against a declared
    origin (deposit id or name, or ISO 3166-1 alpha-2 country). ``detection_limits``: the limit (ppm) of each
    element reported below it (censored in the likelihood); ``uncertainties``: 1-sigma (ppm) of measured
    values. ``descriptors=False`` skips the pyrolite descriptors (``check_samples`` computes them for a
    whole batch at once)."""
    # 1. Inputs: the form, the values, the declared origin (resolved before any work).
    the_form = parse_enum(Form, form, "form")
    model = model or default_model()
    library = model.library
    kind, declared_deposits = library.resolve(declared) if declared is not None else ("", ())
    rey, limits, sds, isotopes, ignored = _split(assay, detection_limits, uncertainties)

    # 2. What can speak for this form.
    obs, used, missing, pattern, basis = _informative(model, the_form, (rey, limits, sds), isotopes, ignored)

    # 3. Score: identification needs the pattern; isotopes alone only test a declared origin.
    comparable: NDArray[np.bool_] = np.asarray(model.known[:, ~np.isnan(obs.x[0])].any(axis=1))
    scores = model.scores(obs, among=comparable[None, :]) if basis != "none" else None
    log_p = np.full(len(model.deposits), np.nan) if scores is None else scores.log_p[0]
    candidates: tuple[Candidate, ...] = ()
    unknown = False
    if pattern and scores is not None:
        candidates, unknown = _candidates(model, scores), bool(scores.unknown[0])

    # 4. The declared-origin test.
    test = _Declared()
    if declared is not None:
        wanted = {d.id for d in declared_deposits}
        mask = np.array([d.id in wanted for d in model.deposits])
        test = _declared_test(model, scores, mask, kind, comparable, pattern, obs)
    pattern_ppm = rey | {e: BELOW_DL_FRACTION * dl for e, dl in limits.items()}
    described = describe(pattern_ppm) if pattern and descriptors else None
    partial_fits = tuple(
        d.name for i, d in enumerate(model.deposits) if not model.vouch[i] and log_p[i] >= math.log(ALPHA)
    )
    explanation = _explain(
        the_form.value, basis, candidates, unknown, declared, test.status, test.p_value, test.ratio,
        test.reason, missing,
    )  # fmt: skip
    mixture = _mixture(model, obs, scores) if pattern and scores is not None else None
    explanation += _blend_and_partial_fits(mixture, partial_fits if unknown else ())
    return FingerprintResult(
        form=the_form.value, declared=declared, status=test.status, basis=basis, candidates=candidates,
        unknown=unknown, p_value=test.p_value, likelihood_ratio=test.ratio, tested_deposits=test.tested,
        features_used=tuple(used), features_missing=tuple(missing), features_ignored=ignored,
        false_rejection_rate=ALPHA, explanation=explanation, descriptors=described, mixture=mixture,
    )  # fmt: skip


def _candidates(model: FingerprintModel, scores: Scores) -> tuple[Candidate, ...]:
    """Up to ``_TOP`` deposits by probability, the model's first pick (one that can vouch) first; those
    below probability 1e-4 left out."""
    log_p, prob = scores.log_p[0], scores.probabilities[0]
    first = int(model.top(prob[None, :])[0])
    order = [first, *(int(i) for i in np.argsort(-prob) if i != first)][:_TOP]
    return tuple(
        Candidate(
            model.deposits[i].id, model.deposits[i].name, model.deposits[i].countries,
            round(float(prob[i]), 6), None if np.isnan(log_p[i]) else float(math.exp(log_p[i])),
            model.deposits[i].approximate, bool(model.vouch[i]),
        )
        for i in order
        if prob[i] >= 1e-4 or i == first
    )  # fmt: skip


@dataclass(frozen=True)
class _Declared:
    """The declared-origin test's outcome (all None / empty when nothing was declared)."""

    status: str | None = None
    p_value: float | None = None
    ratio: float | None = None
    tested: tuple[str, ...] = ()
    reason: str = ""


def _declared_test(
    model: FingerprintModel,
    scores: Scores | None,
    mask: NDArray[np.bool_],
    kind: str,
    comparable: NDArray[np.bool_],
    pattern: bool,
    obs: Observed,
) -> _Declared:
    """The declared origin (the deposits in ``mask``; ``kind`` says whether a country was declared) tested
    by ``decision.declared_verdicts``; indeterminate without informative features or a reference."""
    if scores is None:
        return _Declared("indeterminate", reason="the informative features are missing")
    if not mask.any():
        where = "that country" if kind == "country" else "that deposit"
        return _Declared("indeterminate", reason=f"the library holds no reference for {where}")
    v = declared_verdicts(model, scores, mask, comparable[None, :], np.array([pattern]), obs.precise_count())
    return _Declared(
        str(v.status[0]),
        None if np.isnan(v.p_value[0]) else float(v.p_value[0]),
        None if np.isnan(v.ratio[0]) else float(v.ratio[0]),
        tuple(d.id for d, t in zip(model.deposits, v.tested[0], strict=True) if t),
        v.reason[0],
    )


def _blend_and_partial_fits(mixture: Blend | None, partial_fits: tuple[str, ...]) -> str:
    """What the explanation adds for a blend that fits where no single deposit does, and for the partial
    references a sample matching no deposit does fit (``partial_fits``)."""
    text = ""
    if mixture is not None:
        text += (
            f" It fits a blend of {mixture.deposits[0]} and {mixture.deposits[1]} (about "
            f"{mixture.fraction[1]:.0%} of the TREO from the second, "
            f"{mixture.fraction_range[0]:.0%}-{mixture.fraction_range[1]:.0%} within the 95% "
            f"likelihood range, p = {mixture.p_value:.3g}) where no single deposit fits; similar "
            "references make other blends possible too."
        )
    if partial_fits:
        text += (
            f" It does fit the partial references of {', '.join(partial_fits)}, which give too few figures "
            "to vouch for a sample."
        )
    return text


def _mixture(model: FingerprintModel, obs: Observed, scores: Scores) -> Blend | None:
    m = best_mixtures(model, obs, scores)
    if not m.reported[0]:
        return None
    a, b = model.deposits[int(m.a[0])], model.deposits[int(m.b[0])]
    f = float(m.fraction_b[0])
    return Blend(
        (a.id, b.id),
        (round(1 - f, 2), round(f, 2)),
        (round(float(m.fraction_low[0]), 2), round(float(m.fraction_high[0]), 2)),
        float(m.p_value[0]),
    )


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
