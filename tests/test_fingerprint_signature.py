"""Issue 19, second signature: Nd-Sr isotopes in the library, the assay format, the likelihood and the
independent lab evaluation; invariants of the likelihood under censoring."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretrace.fingerprint import default_model
from raretrace.fingerprint.build import build_library
from raretrace.fingerprint.decision import INCONSISTENT, declared_verdicts
from raretrace.fingerprint.labeval import certified_samples_csv, truth_patterns
from raretrace.fingerprint.labsim import PROFILES, IsotopeTruth, LabGenerator
from raretrace.fingerprint.library import REY, library_from_dict
from raretrace.fingerprint.model import build_model
from raretrace.fingerprint.samples import parse_reference_samples

ISOTOPE_PROFILE = next(p for p in PROFILES if p.isotopes)


_MP = (33.2, 49.1, 4.34, 12.0, 0.789, 0.118, 0.166, 0.0159, 0.0312, 0.0051, 0.0035, 0.0009, 0.0006, 0.0001,
       0.09)  # fmt: skip


def _rows(isotopes: list[tuple[float, float] | None]) -> list[str]:
    """Concentrate rows of one deposit (Mountain Pass's centres, % of TREO x 1000 ppm), with the given
    (eNd, 87Sr/86Sr) or blank isotope cells."""
    cells = [f"{v * 1000:.6g}" for v in _MP]
    tail = [(str(iso[0]), str(iso[1])) if iso else ("", "") for iso in isotopes]
    return [
        ",".join(["mp", "US", f"lab {i % 2}", "icp-ms", "concentrate", *cells, *t])
        for i, t in enumerate(tail)
    ]


def test_library_build_fits_the_isotopes_its_samples_report() -> None:
    """Mean and sample standard deviation of the reported eNd and 87Sr/86Sr become the deposit's measured
    isotope figures (written out with ``statistics``); a quantity fewer than 3 samples report is left out."""
    header = "deposit,country,lab,method,form," + ",".join(f"{e} (ppm)" for e in REY) + ",eNd,87Sr/86Sr"
    eps = [-30.1, -31.4, -29.0, -30.6]
    sr = [0.70312, 0.70355, 0.70301, 0.70330]
    text = header + "\n" + "\n".join(_rows(list(zip(eps, sr, strict=True)))) + "\n"
    data = build_library(parse_reference_samples(text), "crm.csv", text.encode(), "2026-12-06T00:00:00+00:00")
    figures = {f["quantity"]: f for f in data["deposits"][0]["isotopes"]}
    assert figures["eNd"]["value"] == pytest.approx(statistics.mean(eps), abs=1e-6)
    assert figures["eNd"]["sd"] == pytest.approx(statistics.stdev(eps), abs=1e-6)
    assert figures["87Sr/86Sr"]["value"] == pytest.approx(statistics.mean(sr), abs=1e-6)
    assert figures["87Sr/86Sr"]["sd"] == pytest.approx(statistics.stdev(sr), abs=1e-6)
    assert all(f["status"] == "measured" and f["source"] in data["sources"] for f in figures.values())
    library = library_from_dict(data, "built")
    assert library.deposits[0].isotope("eNd") is not None
    # two samples only report isotopes: no figure rather than a spread from two values
    some = header + "\n" + "\n".join(_rows([(eps[0], sr[0]), (eps[1], sr[1]), None, None])) + "\n"
    data = build_library(parse_reference_samples(some), "crm.csv", some.encode(), "t")
    assert "isotopes" not in data["deposits"][0]


@pytest.fixture(scope="module")
def isotope_model() -> object:
    """A model of a library built from certified samples characterised for Nd and Sr isotopes."""
    text = certified_samples_csv(12, isotopes=True)
    data = build_library(parse_reference_samples(text), "crm.csv", text.encode(), "t")
    return build_model(library_from_dict(data, "built with isotopes"))


def test_a_lookalike_with_another_nd_signature_is_rejected_only_when_isotopes_are_reported(
    isotope_model: object,
) -> None:
    """The same lab reports of in-library chemistry, once with their own isotopes and once with epsilon-Nd
    moved by 15 units (an out-of-library deposit of another age or source that looks alike in its REE):
    with isotopes the look-alikes are rejected, their twins are not. Scoring epsilon-Nd on each deposit's
    Sm-Nd isochron matters: a single Gaussian per deposit has a spread of up to 4-5 epsilon units for an old
    deposit or a xenotime (Sm/Nd varies), and then only about 58% of these look-alikes were rejected."""
    model = isotope_model
    assert hasattr(model, "scores")
    gen, _ = truth_patterns()
    a = gen.draw(ISOTOPE_PROFILE, 40, "concentrate", salt=5)
    assert a.isotopes is not None
    own = model.scores(a.observe(model.space))  # type: ignore[attr-defined]
    moved = a.isotopes.copy()
    moved[:, 0] += 15.0
    from dataclasses import replace

    shifted = model.scores(replace(a, isotopes=moved).observe(model.space))  # type: ignore[attr-defined]
    assert np.mean(own.unknown) < 0.05
    assert np.mean(shifted.unknown) > 0.9
    bare = model.scores(replace(a, isotopes=None).observe(model.space))  # type: ignore[attr-defined]
    assert np.mean(bare.unknown) < 0.05


def test_bayan_obo_declared_australian_is_caught_more_often_with_isotopes() -> None:
    """Bayan Obo has published epsilon-Nd and 87Sr/86Sr, the Australian references have none: a report with
    isotopes adds evidence for Bayan Obo that no Australian reference can match (the old code had no lab
    profile with isotopes, and no Bayan Obo report carried them)."""
    model = default_model()
    gen, kept = truth_patterns()
    bo = [d.id for d in kept].index("bayan-obo")
    declared = np.array(["AU" in d.countries for d in model.deposits])
    a = gen.draw(ISOTOPE_PROFILE, 300, "ore", salt=6)
    from dataclasses import replace

    rates = []
    for assays in (replace(a, isotopes=None), a):
        obs = assays.observe(model.space)
        sel = assays.labels == bo
        scores = model.scores(obs.rows(sel))
        n = int(sel.sum())
        v = declared_verdicts(
            model, scores, declared, np.ones((n, len(model.deposits)), dtype=bool), np.ones(n, dtype=bool)
        )
        rates.append(float(np.mean(v.status == INCONSISTENT)))
    # measured on the evaluation's 600 reports: 0.64 without isotopes, 0.81 with them (docs/fingerprint.md);
    # Mount Weld has no published isotope figure, so a Bayan Obo report inside its pattern can still pass
    assert rates[1] >= rates[0] + 0.1, rates


def _epsilon_today(eps_initial: float, age_ma: float, sm_nd_mass: float) -> float:
    """Written out from the decay equation (constants as in the library's sources): 143Nd/144Nd(t) from
    epsilon and CHUR at t, plus 147Sm/144Nd x (exp(lambda t) - 1)."""
    lam, chur0, chur147 = 6.54e-12, 0.512630, 0.1960
    grow = math.exp(lam * age_ma * 1e6) - 1
    sm147_nd144 = sm_nd_mass * (144.242 / 150.36) * (0.1499 / 0.23798)
    ratio_t = (chur0 - chur147 * grow) * (1 + eps_initial / 1e4)
    return ((ratio_t + sm147_nd144 * grow) / chur0 - 1) * 1e4


def test_a_blend_carries_the_nd_weighted_epsilon_of_its_parts() -> None:
    """Two deposits without spread, 30% of the TREO from the second: the blend's epsilon-Nd is the mean of
    the parts weighted by their Nd (mass balance of 143Nd and 144Nd), each part's present-day value from its
    own Sm/Nd."""
    a = np.array([0.30, 0.50, 0.05, 0.12, 0.01, 0.002, 0.005, 0.001, 0.002] + [0.0005] * 6)
    b = np.array([0.05, 0.10, 0.03, 0.20, 0.10, 0.01, 0.10, 0.02, 0.10, 0.02, 0.06, 0.01, 0.05, 0.01, 0.14])
    patterns = np.vstack([a / a.sum(), b / b.sum()])
    iso = IsotopeTruth(
        np.array([1400.0, 300.0]), np.array([1.0, -5.0]), np.zeros(2), np.array([0.703, 0.706]), np.zeros(2)
    )
    gen = LabGenerator(patterns, np.zeros((2, 15)), 1, iso)
    frac = np.array([0.3])
    mixed = 0.7 * patterns[0] + 0.3 * patterns[1]
    out = gen.true_isotopes(np.array([0]), mixed[None, :], np.random.default_rng(0), np.array([1]), frac)
    from raretrace.fingerprint.labsim import ELEMENT_PER_OXIDE

    el = patterns * ELEMENT_PER_OXIDE
    sm, nd = REY.index("Sm"), REY.index("Nd")
    eps = [_epsilon_today(iso.eps_initial[i], iso.age_ma[i], el[i, sm] / el[i, nd]) for i in (0, 1)]
    w = np.array([0.7 * el[0, nd], 0.3 * el[1, nd]])
    # 1e-3 epsilon: the test takes IUPAC 2021 atomic weights, the package its own rounding
    assert out[0, 0] == pytest.approx(float(np.dot(w, eps) / w.sum()), abs=1e-3)
    assert out[0, 1] == pytest.approx(0.7 * 0.703 + 0.3 * 0.706, abs=1e-9)


# --- invariants ---------------------------------------------------------------------------------------------

_shares = st.lists(st.floats(min_value=1e-4, max_value=1.0), min_size=15, max_size=15)


@settings(max_examples=40, deadline=None)
@given(
    shares=_shares,
    censored=st.lists(st.booleans(), min_size=15, max_size=15),
    eps=st.one_of(st.none(), st.floats(min_value=-50, max_value=20)),
)
def test_probabilities_sum_to_one_whatever_is_censored_or_reported(
    shares: list[float], censored: list[bool], eps: float | None
) -> None:
    model = default_model()
    ppm = np.array([shares]) * 1e4
    cens = np.array([censored])
    iso = None if eps is None else np.array([[eps, np.nan]])
    obs = model.space.observe(ppm, censored=cens, limits=np.where(cens, ppm, 0.0), isotopes=iso)
    p = model.scores(obs).probabilities
    assert np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    element=st.sampled_from(REY),
    low=st.floats(min_value=1e-6, max_value=1e3),
    factor=st.floats(min_value=1.01, max_value=1e3),
)
def test_a_higher_detection_limit_never_makes_a_deposit_less_likely_nor_a_worse_fit(
    element: str, low: float, factor: float
) -> None:
    """Censoring is monotone: "below a higher limit" is implied by "below a lower one", so each deposit's own
    likelihood of the entry (score plus the background's censored term) cannot fall, and its D2 misfit cannot
    rise, as the limit rises (the rest of the assay fixed)."""
    from scipy import special

    model = default_model()
    base = np.array([[33.2, 49.1, 4.34, 12.0, 0.789, 0.118, 0.166, 0.0159, 0.0312, 0.0051, 0.0035, 0.0009,
                      0.0006, 0.0001, 0.0913]]) * 1e3  # fmt: skip
    cens = np.array([[e == element for e in REY]])
    j = REY.index(element)

    def terms(limit: float) -> tuple[np.ndarray, np.ndarray]:
        obs = model.space.observe(base, censored=cens, limits=np.where(cens, limit, 0.0))
        raw = model._raw_direct(obs)
        c = obs.x[0, j]
        own = raw.score[0] + special.log_ndtr((c - model.bg_mean[j]) / model.bg_sd[j])
        return own, raw.d2[0]

    own_lo, d2_lo = terms(low)
    own_hi, d2_hi = terms(low * factor)
    fixes = model.known[:, j] | model.derived[:, j]
    assert np.all(own_hi[fixes] >= own_lo[fixes] - 1e-9)
    assert np.all(d2_hi <= d2_lo + 1e-9)


# --- the open-set threshold calibrated on the library's own samples (cross-conformal) -----------------------


def test_conformal_shift_is_the_rank_ceil_n_plus_one_times_one_minus_alpha() -> None:
    from raretrace.fingerprint.conformal import conformal_shift

    excess = np.random.default_rng(3).permutation(np.arange(199.0))  # 0 .. 198, shuffled
    # rank ceil(200 x 0.99) = 198: the 198th smallest of 0..198 is 197
    assert conformal_shift(excess, 0.01) == (197.0, 0.99)
    # 50 values cannot certify 1%: the largest, at the level 50 / 51 it does attain
    shift, level = conformal_shift(np.arange(50.0), 0.01)
    assert shift == 49.0 and level == pytest.approx(50 / 51)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=99, max_size=400))
def test_at_most_alpha_of_the_calibration_scores_lie_above_the_shift(values: list[float]) -> None:
    from raretrace.fingerprint.conformal import conformal_shift

    excess = np.array(values)
    shift, _ = conformal_shift(excess, 0.01)
    assert np.mean(excess > shift) <= 0.01


def test_conformal_coverage_on_exchangeable_scores() -> None:
    """The split-conformal guarantee, measured: with 299 calibration scores and a new score from the same
    (heavy-tailed) distribution, the new one exceeds the shift (the 297th smallest) with probability
    3 / 300 = 0.01 for continuous scores."""
    from raretrace.fingerprint.conformal import conformal_shift

    rng = np.random.default_rng(11)
    trials = 4000
    hits = 0
    for _ in range(trials):
        calib = rng.standard_t(3, size=299)
        shift, _ = conformal_shift(calib, 0.01)
        hits += int(rng.standard_t(3) > shift)
    # binomial(4000, 0.01): sd 0.0016
    assert hits / trials <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / trials)


def test_a_library_calibration_moves_the_models_thresholds(tmp_path: object) -> None:
    """The file's ``calibration.novelty_shift`` is added to the threshold the model sets on its draws, and
    each deposit's ``calibration.declared.shift`` is taken off both of its declared-origin thresholds (the
    likelihood-ratio one stays at or below 0); ``library build`` writes both, calibrated on the samples by
    lab."""
    from raretrace.fingerprint.conformal import calibrated_library

    text = certified_samples_csv(4)
    data, _ = calibrated_library(parse_reference_samples(text), "crm.csv", text.encode(), "t")
    cal = data["calibration"]
    assert cal["folds"].startswith("leave-one-lab-out") and cal["held_out"] > 0
    plain = build_model(library_from_dict({**data, "calibration": {}}, "plain"))
    moved = build_model(library_from_dict(data, "calibrated"))
    assert moved.novelty_threshold == pytest.approx(plain.novelty_threshold + cal["novelty_shift"])
    shifts = cal["declared"]["shift"]
    assert set(shifts) == {d.id for d in plain.deposits} and cal["declared"]["held_out"] > 0
    for i, d in enumerate(plain.deposits):
        assert moved.declared_fit[i] == pytest.approx(plain.declared_fit[i] - shifts[d.id])
        assert moved.declared_lr[i] == pytest.approx(min(plain.declared_lr[i] - shifts[d.id], 0.0))
    with pytest.raises(Exception, match="finite number"):
        library_from_dict({**data, "calibration": {"novelty_shift": "x"}}, "bad")
    bad = {**cal, "declared": {"shift": {"nowhere": 0.1}}}
    with pytest.raises(Exception, match="no deposit 'nowhere'"):
        library_from_dict({**data, "calibration": bad}, "bad")
    bad = {**cal, "declared": {"shift": {plain.deposits[0].id: None}}}
    with pytest.raises(Exception, match="finite number"):
        library_from_dict({**data, "calibration": bad}, "bad")


# --- the declared-origin test calibrated on the library's own samples (Mondrian / pooled conformal) ---------


_LOG_P = st.one_of(st.floats(min_value=-50, max_value=0), st.just(math.nan), st.just(-math.inf))
_LLR = st.one_of(st.floats(min_value=-50, max_value=50), st.just(math.nan), st.just(-math.inf))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_LOG_P, _LLR), min_size=1, max_size=20))
def test_the_declared_excess_is_positive_exactly_where_a_truthful_declaration_fails(
    pairs: list[tuple[float, float]],
) -> None:
    """The margin conformal calibration ranks (``declared_excess``) and the verdict's two tests
    (``declared_fails``) agree on every sample and deposit, NaN and -inf included."""
    model = default_model()
    k = len(model.deposits)
    log_p = np.array([[lp] * k for lp, _ in pairs])
    llr = np.array([[lr] * k for _, lr in pairs])
    fit_fail, outweighed = model.declared_fails(log_p, llr)
    assert np.array_equal(model.declared_excess(log_p, llr) > 0, fit_fail | outweighed)


def test_declared_shifts_are_each_deposits_own_quantile_where_it_can_have_one_else_the_pooled_one() -> None:
    """Worked by hand at alpha = 0.01: a deposit with 200 held-out excesses 0..199 gets its own rank
    ceil(201 x 0.99) = 199, the value 198; one with 10 (1000..1009) cannot certify 1% (fewer than 99) and gets
    the pooled rank ceil(211 x 0.99) = 209 of all 210, the value 1008."""
    from raretrace.fingerprint.conformal import declared_calibration, mondrian_min

    assert mondrian_min(0.01) == 99 and mondrian_min(0.1) == 9
    excess = np.concatenate([np.arange(200.0), 1000.0 + np.arange(10.0)])
    deposits = ["big"] * 200 + ["small"] * 10
    cal = declared_calibration(excess, deposits, 0.01)
    assert cal.shifts == {"big": 198.0, "small": 1008.0}
    assert cal.own_quantile == ("big",) and cal.pooled_shift == 1008.0 and cal.held_out == 210
    entry = cal.entry()
    assert entry["shift"] == {"big": 198.0, "small": 1008.0} and entry["attained_level"] == 0.99
    # an infinite quantile would switch the test off: the nearest finite excess stands in
    odd = declared_calibration(np.array([np.inf] * 3 + [1.0, 2.0]), ["a"] * 5, 0.01)
    assert odd.shifts == {"a": 2.0}


def test_mondrian_coverage_holds_per_deposit_on_exchangeable_scores() -> None:
    """The class-conditional guarantee, measured: two deposits whose truthful excesses differ in scale, 150
    calibration scores each; a new truthful report of either exceeds its own shift with probability at most
    1% (one pooled shift would hold for the mixture only: the wide deposit would fail more often)."""
    from raretrace.fingerprint.conformal import declared_calibration

    rng = np.random.default_rng(19)
    trials, hits = 3000, {"narrow": 0, "wide": 0}
    scale = {"narrow": 1.0, "wide": 4.0}
    for _ in range(trials):
        excess = np.concatenate(
            [rng.standard_t(3, 150) * scale["narrow"], rng.standard_t(3, 150) * scale["wide"]]
        )
        cal = declared_calibration(excess, ["narrow"] * 150 + ["wide"] * 150, 0.01)
        for d in hits:
            hits[d] += int(rng.standard_t(3) * scale[d] > cal.shifts[d])
    bound = 0.01 + 3 * math.sqrt(0.01 * 0.99 / trials)
    assert all(h / trials <= bound for h in hits.values()), hits


def test_a_blend_is_named_with_its_fraction_range_and_its_nd_must_balance(isotope_model: object) -> None:
    """Mountain Pass ore with 30% of its TREO from Longnan (shares mixed by TREO mass, the deposits' centre
    shares): reported as that pair, 30% inside the 95% likelihood range of the fraction. Its epsilon-Nd is
    the Nd-weighted mean of the parts' (computed here); a report whose epsilon-Nd is 20 units off that is no
    longer that blend."""
    from raretrace.fingerprint.features import OXIDE_PER_ELEMENT
    from raretrace.fingerprint.isotopes import sm147_nd144
    from raretrace.fingerprint.mixture import best_mixtures

    model = isotope_model
    assert hasattr(model, "deposits")
    ids = [d.id for d in model.deposits]  # type: ignore[attr-defined]
    a, b = ids.index("mountain-pass"), ids.index("longnan")
    centre = np.exp(model.mean[:, :15])  # type: ignore[attr-defined]
    shares = 0.7 * centre[a] + 0.3 * centre[b]
    ppm = shares / shares.sum() * 2e5 / OXIDE_PER_ELEMENT
    lines = model.isochrons  # type: ignore[attr-defined]
    sm, nd = REY.index("Sm"), REY.index("Nd")

    def part(k: int) -> float:
        el = centre[k] / OXIDE_PER_ELEMENT
        return float(lines.intercept[k] + lines.slope[k] * sm147_nd144(el[sm] / el[nd]))

    w = np.array([0.7 * centre[a, nd], 0.3 * centre[b, nd]])
    eps = float(np.dot(w, [part(a), part(b)]) / w.sum())
    for offset, named in ((0.0, True), (20.0, False)):
        obs = model.space.observe(ppm[None], isotopes=np.array([[eps + offset, np.nan]]))  # type: ignore[attr-defined]
        m = best_mixtures(model, obs, model.scores(obs))  # type: ignore[arg-type, attr-defined]
        pair = {int(m.a[0]), int(m.b[0])} == {a, b}
        assert bool(m.reported[0] and pair) is named, (offset, m)
        if named:
            frac_b = m.fraction_b[0] if m.b[0] == b else 1 - m.fraction_b[0]
            low, high = (m.fraction_low[0], m.fraction_high[0]) if m.b[0] == b else (
                1 - m.fraction_high[0], 1 - m.fraction_low[0])  # fmt: skip
            assert abs(frac_b - 0.3) <= 0.02 and low <= 0.3 <= high


def test_an_isotope_uncertainty_column_widens_the_epsilon_nd_term() -> None:
    """'U eNd' is read as the 1-sigma of the reported epsilon-Nd: a Bayan Obo concentrate whose epsilon-Nd
    is 6 units off its isochron is far outside it when measured to 0.2, and within reach when the lab says
    +- 5 (the deposit's term then weighs (6 / sqrt(sd^2 + 25))^2, not (6 / sd)^2)."""
    model = default_model()
    ref = next(d for d in model.deposits if d.id == "bayan-obo")
    cells = {e: ref.shares[e].centre_pct * 3000 for e in REY if e in ref.shares}
    cells |= {e: 0.5 for e in REY if e not in ref.shares}
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY), "eNd", "U eNd"]
    lines = model.isochrons
    i = [d.id for d in model.deposits].index("bayan-obo")
    from raretrace.fingerprint.isotopes import sm147_nd144

    sm_nd = cells["Sm"] / cells["Nd"]  # element ppm ratio of the assay as written
    eps = float(lines.intercept[i] + lines.slope[i] * sm147_nd144(sm_nd)) + 6.0
    rows = [
        ",".join([name, "concentrate", *(f"{cells[e]:.6g}" for e in REY), f"{eps:.2f}", u])
        for name, u in (("tight", "0.2"), ("loose", "5"))
    ]
    from raretrace.fingerprint import parse_assay_csv

    samples = parse_assay_csv(",".join(header) + "\n" + "\n".join(rows) + "\n")
    assert samples[0].uncertainties["eNd"] == 0.2
    tight, loose = (s.check("bayan-obo", model=model) for s in samples)
    assert tight.p_value is not None and loose.p_value is not None
    assert loose.p_value > 10 * tight.p_value
    with pytest.raises(Exception, match="names an element"):
        parse_assay_csv("form,DL eNd\nore,1\n")
