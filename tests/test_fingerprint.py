"""Origin fingerprint: library, model, declared-origin test, evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from raretrace.errors import ValidationError
from raretrace.fingerprint import build_model, check_assay, default_model, load_library
from raretrace.fingerprint.evaluate import auroc, expected_calibration_error, main
from raretrace.fingerprint.isotopes import CHUR_147_144, present_day_epsilon, sm147_nd144
from raretrace.fingerprint.library import REY, STATUSES, library_data, library_from_dict
from raretrace.fingerprint.model import ALPHA
from raretrace.fingerprint.simulate import simulate, simulate_deposit


def assays(
    deposit_id: str, n: int, seed: int, form: str = "ore"
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """Simulated complete assays of a deposit as (ppm, detection limits of censored elements)."""
    model = default_model()
    _, ppm, censored = simulate_deposit(
        load_library().get(deposit_id), model.space, n, np.random.default_rng(seed), form=form
    )
    out = []
    for row, cens in zip(ppm, censored, strict=True):
        assert np.isfinite(row).all(), f"{deposit_id} has no complete reference pattern"
        values = {e: float(v) for e, v, c in zip(REY, row, cens, strict=True) if not c}
        limits = {e: 0.5 if e == "Y" else 0.05 for e, c in zip(REY, cens, strict=True) if c}
        out.append((values, limits))
    return out


# --- library ----------------------------------------------------------------------------------------------


def test_library_has_at_least_15_sourced_deposits_with_countries() -> None:
    library = load_library()
    assert len(library.deposits) >= 15
    for d in library.deposits:
        assert d.source in library.sources
        assert d.countries and all(len(c) == 2 for c in d.countries)
        assert d.shares, d.id
        for iso in d.isotopes:
            assert iso.source
    # rows recalled or secondary are marked approximate
    assert all(d.approximate for d in library.deposits)


def test_library_never_fills_in_missing_figures() -> None:
    library = load_library()
    assert "Y" not in library.get("bayan-obo").shares  # the source says only "tr"
    assert "Tb" not in library.get("xunwu").shares
    # isotopes only where a source gives them
    assert [d.id for d in library.deposits if d.isotopes] == ["bayan-obo"]
    # Xunwu's recalled row sums to ~102% and is rescaled to 100
    assert sum(s.centre_pct for s in library.get("xunwu").shares.values()) == pytest.approx(100.0)


def test_library_rejects_a_figure_without_source() -> None:
    with pytest.raises(ValidationError, match="source"):
        library_from_dict(
            {
                "variability": {},
                "sources": {},
                "deposits": [{"id": "x", "name": "x", "type": "t", "mineral": "m", "source": "nowhere"}],
            },
            "test",
        )


def test_every_deposit_states_how_its_figures_are_known() -> None:
    library = load_library()
    # no original table could be read: rows are recalled (Table 1) or secondary (Table 2), never published
    expected = {"castor-hedrick-2006-recalled": "recalled", "deposits-md-table2": "secondary"}
    for d in library.deposits:
        assert d.status == expected[d.source]
        checks = d.raw["verification"]
        assert checks and all(c["against"] and c["result"] for c in checks), d.id
        for iso in d.raw.get("isotopes", []):
            assert iso["status"] == "published"
        assert all(r.status == "published" for r in d.ratios)
        for key in d.shares:
            assert d.status_of(key) in STATUSES
    # published figures do appear: Bayan Obo's isotopes, Lovozero's loparite Ce/Yb, ages
    assert {d.id for d in library.deposits if d.ratios} == {"lovozero"}
    dated = {d.id for d in library.deposits if d.raw.get("ages")}
    assert dated >= {"mountain-pass", "bayan-obo", "mount-weld"}


def test_lovozero_yb_follows_the_published_ce_yb_ratio() -> None:
    lovozero = load_library().get("lovozero")
    (ratio,) = lovozero.ratios
    assert ratio.ratio == "Ce/Yb" and ratio.low == ratio.high
    # oxide shares -> element mass ratio, with the stoichiometric factors of raretrace.elements
    from raretrace.elements import oxide_factor

    ce = lovozero.shares["Ce"].centre_pct * oxide_factor("Ce")
    yb = lovozero.shares["Yb"].centre_pct * oxide_factor("Yb")
    assert ce / yb == pytest.approx(ratio.low, rel=0.01)
    assert lovozero.status_of("Yb") == "estimated"
    assert lovozero.status_of("La") == "recalled"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda row: row.update(status="guessed"), "status must start with"),
        (lambda row: row["isotopes"][0].update(source="nowhere"), "unknown source 'nowhere'"),
        (lambda row: row["isotopes"][0].pop("status"), "status must start with"),
        (lambda row: row.update(figure_status={"Ho": "estimated: x"}), "no figure 'Ho'"),
        (lambda row: row.update(ratios=[{"ratio": "Ce/Yb", "value": 5, "basis": "mass"}]), "its source"),
        (lambda row: row["verification"][0].update(result=""), "states its result"),
    ],
)
def test_library_rejects_figures_without_provenance(patch: object, message: str) -> None:
    data = library_data()
    row = next(r for r in data["deposits"] if r["id"] == "bayan-obo")
    patch(row)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=message):
        library_from_dict(data, "test")


def test_resolve_declared_origin() -> None:
    library = load_library()
    assert library.resolve("Mountain Pass") == ("deposit", (library.get("mountain-pass"),))
    kind, deposits = library.resolve("cn")
    assert kind == "country" and {d.id for d in deposits} >= {"bayan-obo", "longnan", "xunwu"}
    assert library.resolve("VN") == ("country", ())
    with pytest.raises(ValidationError, match="neither a deposit"):
        library.resolve("Atlantis")


# --- isotopes ---------------------------------------------------------------------------------------------


def test_present_day_epsilon_is_unchanged_at_chondritic_sm_nd() -> None:
    chondritic = CHUR_147_144 / float(sm147_nd144(1.0))
    # epsilon is relative to CHUR at each time, so it is kept up to the factor CHUR(t)/CHUR(0)
    assert float(present_day_epsilon(3.0, 1300, chondritic)) == pytest.approx(3.0, abs=0.02)
    # LREE-enriched ore (low Sm/Nd) falls far below CHUR over 1.3 Gyr
    assert float(present_day_epsilon(0.3, 1300, 0.045)) < -20


# --- model ------------------------------------------------------------------------------------------------


def test_model_is_deterministic_and_fast() -> None:
    library = load_library()
    a, b = build_model(library), build_model(library)
    assert a.temperature == b.temperature
    assert np.array_equal(a.mean, b.mean)
    assert default_model() is default_model()


def test_probabilities_are_calibrated_on_fresh_draws() -> None:
    model = default_model()
    draws = simulate(model.deposits, model.space, 150, seed=424242)
    probs = model.scores(draws.features).probabilities
    correct = probs.argmax(axis=1) == draws.labels
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert expected_calibration_error(probs.max(axis=1), correct) < 0.06


def test_open_set_threshold_keeps_its_false_rejection_rate_on_fresh_draws() -> None:
    model = default_model()
    vouching = tuple(d for d in model.deposits if d.complete_pattern)
    rates = []
    for form, seed in (("ore", 515151), ("concentrate", 525252)):
        draws = simulate(vouching, model.space, 300, seed=seed, form=form)
        scores = model.scores(draws.features)
        rates.append(float(scores.unknown.mean()))
        # the fast batch path takes the same decision
        assert np.array_equal(model.classify(draws.features)[2], scores.unknown)
    assert all(0.0 < r < 3 * ALPHA for r in rates), rates


def test_light_ree_deposit_held_out_is_scored_as_novel() -> None:
    """Bayan Obo's pattern lies inside the broad Lovozero and Mount Weld references: the fit test alone
    ranks it poorly; the likelihood-ratio evidence in the novelty score separates it."""
    library = load_library()
    model = build_model(library.without("bayan-obo"))
    held = simulate((library.get("bayan-obo"),), model.space, 400, seed=616161, form="ore")
    known = simulate(tuple(d for d in model.deposits if d.complete_pattern), model.space, 100, seed=626262)
    s_out, s_in = model.scores(held.features), model.scores(known.features)
    novelty_auroc = auroc(s_out.novelty, s_in.novelty)
    fit_only_auroc = auroc(-s_out.best_log_p, -s_in.best_log_p)
    assert novelty_auroc >= 0.93
    assert novelty_auroc > fit_only_auroc + 0.05


def test_auroc_and_ece_helpers() -> None:
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([1.0]), np.array([1.0])) == 0.5
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, False])) == pytest.approx(0.5)


# --- check_assay ------------------------------------------------------------------------------------------


def test_declared_origin_matching_the_chemistry_is_consistent() -> None:
    values, limits = assays("longnan", 1, seed=1)[0]
    result = check_assay(values, "ore", "longnan", detection_limits=limits)
    assert result.status == "consistent"
    assert result.candidates[0].deposit == "longnan"
    assert result.p_value is not None and result.p_value >= ALPHA
    assert result.unknown is False
    assert "ln(Y/TREO)" in result.features_used
    assert result.descriptors is not None and result.descriptors["Ce/Ce*"] < 0.5  # the clay Ce anomaly
    assert result.descriptors["chondrite"].startswith("ChondriteREE_ON")
    json.dumps(result.to_dict(), allow_nan=False)
    country = check_assay(values, "ore", "CN", detection_limits=limits)
    assert country.status == "consistent"


@pytest.mark.parametrize(
    ("deposit", "declared"), [("longnan", "mountain-pass"), ("longnan", "US"), ("mountain-pass", "bayan-obo")]
)
def test_declared_origin_contradicted_by_the_chemistry_is_flagged(deposit: str, declared: str) -> None:
    for values, limits in assays(deposit, 3, seed=2):
        result = check_assay(values, "concentrate", declared, detection_limits=limits, descriptors=False)
        assert result.status == "inconsistent", result.explanation
        assert (result.p_value is not None and result.p_value < ALPHA) or (
            result.likelihood_ratio is not None and result.likelihood_ratio < 0.01
        )
        assert "inconsistent" in result.explanation


def test_declared_country_without_a_reference_is_indeterminate() -> None:
    values, limits = assays("mountain-pass", 1, seed=3)[0]
    result = check_assay(values, "ore", "VN", detection_limits=limits)
    assert result.status == "indeterminate"
    assert result.candidates[0].deposit == "mountain-pass"


def test_sample_from_held_out_deposit_is_rejected_as_unknown() -> None:
    without = build_model(load_library().without("longnan"))
    samples = assays("longnan", 10, seed=4)
    results = [
        check_assay(v, "ore", "longnan", detection_limits=dl, model=without, descriptors=False)
        for v, dl in samples
    ]
    assert all(r.unknown for r in results)
    assert all(r.status == "indeterminate" for r in results)  # longnan is not in that model's library
    assert "matches no deposit" in results[0].explanation
    # the same samples are accepted by the model that knows the deposit
    assert not any(check_assay(v, "ore", detection_limits=dl, descriptors=False).unknown for v, dl in samples)


def test_separated_oxide_without_isotopes_is_indeterminate() -> None:
    values, _ = (
        assays("bayan-obo", 1, seed=5, form="concentrate")[0]
        if False
        else ({"Nd": 850000.0, "Pr": 900.0}, None)
    )
    result = check_assay(values, "separated_oxide", "bayan-obo")
    assert result.status == "indeterminate"
    assert result.basis == "none"
    assert result.candidates == ()
    assert "eNd (present-day epsilon-Nd)" in result.features_missing
    assert "separation erases" in result.features_ignored["Nd"]
    assert "only isotopes could speak" in result.explanation


def test_processed_material_is_judged_by_nd_isotopes_only() -> None:
    library = load_library()
    sm_nd = (
        library.get("bayan-obo").shares["Sm"].centre_pct / library.get("bayan-obo").shares["Nd"].centre_pct
    )
    expected = float(present_day_epsilon(0.3, 1300, sm_nd * 0.8624 / 0.8574))
    ok = check_assay({"Nd": 850000.0, "eNd": expected, "87Sr/86Sr": 0.75}, "magnet", "bayan-obo")
    assert ok.status == "consistent"
    assert ok.features_used == ("eNd",)
    assert "87Sr/86Sr" in ok.features_ignored  # Sr in a magnet comes from feed and reagents
    far = check_assay({"eNd": 5.0}, "separated_oxide", "bayan-obo")  # mantle-like, ~30 epsilon units off
    assert far.status == "inconsistent"
    # a deposit without isotope references cannot be tested by isotopes
    assert check_assay({"eNd": -10.0}, "metal", "mountain-pass").status == "indeterminate"
    # 143Nd/144Nd is accepted and turned into epsilon
    ratio = check_assay({"143Nd/144Nd": 0.512630 * (1 + expected / 1e4)}, "metal", "bayan-obo")
    assert ratio.status == "consistent"


def test_incomplete_pattern_is_indeterminate_not_a_guess() -> None:
    result = check_assay({"La": 1000.0, "Ce": 2000.0, "Nd": 500.0}, "ore", "mountain-pass")
    assert result.status == "indeterminate"
    assert result.candidates == ()
    assert any("REY pattern" in m for m in result.features_missing)


def test_bad_assay_values_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown component"):
        check_assay({"Xx": 1.0}, "ore")
    with pytest.raises(ValidationError, match="negative"):
        check_assay({"La": -1.0}, "ore")
    with pytest.raises(ValidationError):
        check_assay({"La": 1.0}, "rock")
    with pytest.raises(ValidationError, match="neither a deposit"):
        check_assay({"La": 1.0}, "ore", "Atlantis")


def test_no_declared_origin_gives_no_status() -> None:
    samples = assays("mountain-pass", 5, seed=6)
    results = [check_assay(v, "ore", detection_limits=dl, descriptors=False) for v, dl in samples]
    assert all(r.status is None for r in results)
    assert sum(r.candidates[0].deposit == "mountain-pass" for r in results) >= 4
    assert all(math.isclose(sum(c.probability for c in r.candidates), 1.0, abs_tol=1e-3) for r in results)


def test_evaluation_command_reports_every_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    for text in (
        "top-1",
        "Brier",
        "ECE",
        "AUROC",
        "samples/s",
        "## Targets",
        "confusion matrix",
    ):
        assert text in out
    # every figure is reported per pattern group, and each deposit says what its simulated assays hold
    for group in ("full", "near-complete", "partial", "all"):
        assert f"\n{group} " in out
    assert "mountain-pass    full           15/15" in out
    assert "maoniuping       partial        2/15+2g" in out
    assert "all 15 deposits: NOT met" in out or "all 15 deposits: met" in out
