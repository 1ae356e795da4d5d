"""Issue 19: censored values, lab reports, enforcement decisions, libraries from samples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from raretrace.elements import oxide_factor
from raretrace.errors import ValidationError
from raretrace.fingerprint import check_assay, default_model, load_library, parse_assay_csv
from raretrace.fingerprint.build import build_library, censored_fit, lab_bias_sd
from raretrace.fingerprint.decision import declared_verdicts
from raretrace.fingerprint.labeval import certified_samples_csv, evaluate_profile, main, truth_patterns
from raretrace.fingerprint.labsim import CHONDRITE_MS95, PROFILES, lookalike, whole_pattern
from raretrace.fingerprint.library import REY, library_from_dict, literature_library
from raretrace.fingerprint.samples import parse_reference_samples

# --- censored likelihood ------------------------------------------------------------------------------------


def test_a_value_below_detection_is_censored_not_imputed() -> None:
    """A Mountain Pass concentrate (its reference centres) with Lu reported below a limit: the limit enters
    as log Phi((c - mu) / sd) less the background's, c the log of the limit's share of the measured TREO
    (written out here with scipy). A limit far above the expected Lu says nothing; one far below it rules
    Mountain Pass out, where the old 0.65 x DL substitution would have scored a made-up value."""
    model = default_model()
    mp_ref = literature_library().get("mountain-pass")
    grade = 0.5e6  # ppm TREO
    values = {e: mp_ref.shares[e].centre_pct / 100 * grade * oxide_factor(e) for e in REY if e != "Lu"}
    treo = sum(v / oxide_factor(e) for e, v in values.items())
    lu = REY.index("Lu")
    mp = [d.id for d in model.deposits].index("mountain-pass")
    ppm = np.array([[values.get(e, 0.0) for e in REY]])
    below = np.array([[e == "Lu" for e in REY]])

    def lu_term(limit: float) -> float:
        obs = model.space.observe(ppm, censored=below, limits=np.where(below, limit, 0.0))
        assert obs.censored[0, lu]
        return float(model._raw(obs).score[0, mp])

    def expected(limit: float) -> float:
        c = math.log(limit / oxide_factor("Lu") / treo)
        return float(
            stats.norm.logcdf((c - model.mean[mp, lu]) / model.sd[mp, lu])
            - stats.norm.logcdf((c - model.bg_mean[lu]) / model.bg_sd[lu])
        )

    high, low = 1e5, 1e-9
    assert lu_term(low) - lu_term(high) == pytest.approx(expected(low) - expected(high), rel=1e-6)
    assert expected(high) == pytest.approx(0.0, abs=0.05)  # a limit far above: (almost) no information
    assert lu_term(low) < lu_term(high) - 10  # far below Mountain Pass's Lu: strong evidence against it
    result = check_assay(values, "concentrate", detection_limits={"Lu": high}, descriptors=False)
    assert result.candidates[0].deposit == "mountain-pass"


def test_censored_fit_recovers_a_gaussian_that_a_substitution_biases() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 0.5, 4000)
    bound = 1.2  # two thirds below the limit
    cens = x < bound
    mu, sd = censored_fit(np.where(cens, bound, x), cens)
    assert mu == pytest.approx(1.0, abs=0.04) and sd == pytest.approx(0.5, abs=0.04)
    # the old 0.65 x DL substitution (in logs) shrinks the spread: two thirds of the values sit at one point
    substituted = np.where(cens, bound + math.log(0.65), x)
    p = stats.norm.cdf(0.4)
    upper = 1.0 + 0.5 * stats.norm.pdf(0.4) / (1 - p)  # E[x | x > 1.2]
    assert float(substituted.mean()) == pytest.approx(
        p * (bound + math.log(0.65)) + (1 - p) * upper, abs=0.03
    )
    assert float(substituted.std()) < 0.4


# --- CSV: limits, uncertainties, precision ------------------------------------------------------------------


def _csv(extra_header: list[str], cells: dict[str, str], extra: list[str]) -> str:
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY), *extra_header]
    row = ["s1", "ore", *(cells.get(e, "100") for e in REY), *extra]
    return ",".join(header) + "\n" + ",".join(row) + "\n"


def test_csv_detection_limit_and_uncertainty_columns() -> None:
    text = _csv(["DL Lu (ppm)", "U La (ppm)", "DL Tm2O3 (wt%)"], {"Lu": "<DL", "Tm": "bdl", "La": "120.0"},
                ["0.3", "6", "0.001"])  # fmt: skip
    (s,) = parse_assay_csv(text)
    assert s.detection_limits["Lu"] == 0.3
    assert s.detection_limits["Tm"] == pytest.approx(0.001 * 1e4 * oxide_factor("Tm"))
    # 1-sigma 6 ppm plus the rounding of "120.0" (0.1 ppm digit: 0.1 / sqrt(12))
    assert s.uncertainties["La"] == pytest.approx(math.hypot(6.0, 0.1 / math.sqrt(12)))
    assert s.check().basis == "rey_pattern"


def test_oxide_precision_rounding_and_zero() -> None:
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY[:-1]), "Y2O3 (wt%)"]
    row = ["s", "ore", *["50"] * 14, "0.000"]
    (s,) = parse_assay_csv(",".join(header) + "\n" + ",".join(row) + "\n")
    # "0.000" wt% Y2O3: below half a unit of the third decimal, as element ppm
    assert s.detection_limits["Y"] == pytest.approx(0.0005 * 1e4 * oxide_factor("Y"))
    row = ["s", "ore", *["50"] * 14, "0.012"]
    (s,) = parse_assay_csv(",".join(header) + "\n" + ",".join(row) + "\n")
    assert s.uncertainties["Y"] == pytest.approx(0.001 * 1e4 * oxide_factor("Y") / math.sqrt(12))


@pytest.mark.parametrize(
    ("extra_header", "cells", "extra", "field"),
    [
        (["DL Lu (ppm)"], {"Lu": "<DL"}, ["-1"], "DL Lu (ppm)"),
        ([], {"Lu": "<DL"}, [], "Lu (ppm)"),
        (["DL Lu (ppm)"], {}, ["<0.3"], "DL Lu (ppm)"),
        (["DL Foo (ppm)"], {}, ["1"], "DL Foo (ppm)"),
    ],
)
def test_bad_limit_columns_name_row_and_column(
    extra_header: list[str], cells: dict[str, str], extra: list[str], field: str
) -> None:
    with pytest.raises(ValidationError) as e:
        parse_assay_csv(_csv(extra_header, cells, extra))
    assert e.value.field == field


# --- decisions ----------------------------------------------------------------------------------------------


def test_a_clear_mismatch_is_inconsistent_even_where_the_country_has_a_partial_reference() -> None:
    """Bayan Obo ore declared as Australian: AU has Nolans, a partial light-REE reference Bayan Obo fits on
    its four figures. Where the vouching references identify Bayan Obo (Bayes factor of AU below 1:100), the
    declaration is inconsistent, never indeterminate; the truthful declaration stays consistent."""
    model = default_model()
    gen, kept = truth_patterns()
    a = gen.draw(PROFILES[0], 60, "concentrate", salt=5)
    ids = [d.id for d in model.deposits]
    bo = np.flatnonzero(np.array([kept[i].id for i in a.labels]) == "bayan-obo")
    scores = model.scores(a.observe(model.space).rows(bo))
    au = np.array(["AU" in d.countries for d in model.deposits])
    assert not model.vouch[ids.index("nolans")] and au[ids.index("nolans")]
    v = declared_verdicts(model, scores, au, np.ones((len(bo), len(ids)), dtype=bool), np.ones(len(bo), bool))
    nolans_fits = scores.log_p[:, ids.index("nolans")] >= model.declared_fit[ids.index("nolans")]
    claimed = (v.ratio < 0.01) & ~scores.unknown & (model.top(scores.probabilities) == ids.index("bayan-obo"))
    assert (nolans_fits & claimed).sum() >= 10  # the case in point occurs
    assert (v.status[claimed] == "inconsistent").all()
    assert np.mean(v.status == "inconsistent") >= 0.5
    # and the same samples declared truthfully are consistent
    cn = np.array(["CN" in d.countries for d in model.deposits])
    v = declared_verdicts(model, scores, cn, np.ones((len(bo), len(ids)), dtype=bool), np.ones(len(bo), bool))
    assert np.mean(v.status == "consistent") >= 0.95


def test_a_partial_reference_never_ranks_first_over_one_that_can_vouch() -> None:
    model = default_model()
    gen, _ = truth_patterns()
    a = gen.draw(PROFILES[1], 40, "ore", salt=6)
    scores = model.scores(a.observe(model.space))
    top = model.top(scores.probabilities)
    assert model.vouch[top].all()
    # where a partial reference has the highest probability, the vouching one still ranks first
    raw_top = scores.probabilities.argmax(axis=1)
    assert (~model.vouch[raw_top]).any()


# --- lab generator ------------------------------------------------------------------------------------------


def test_whole_pattern_interpolates_in_chondrite_normalised_space() -> None:
    bo = literature_library().get("bayan-obo")  # gives La..Dy, not Ho..Lu nor Y
    shares, filled = whole_pattern(bo)  # type: ignore[misc]
    assert filled.tolist() == [e not in bo.shares for e in REY]
    assert shares.sum() == pytest.approx(1.0)

    def norm(e: str) -> float:
        return float(shares[REY.index(e)] * oxide_factor(e) / CHONDRITE_MS95[e])

    # beyond the last figure (Dy) the chondrite-normalised pattern is flat; Y follows Ho
    assert norm("Lu") == pytest.approx(norm("Dy")) and norm("Y") == pytest.approx(norm("Ho"))
    # the given figures keep their ratios
    assert shares[REY.index("Ce")] / shares[REY.index("La")] == pytest.approx(50.0 / 23.0)
    assert whole_pattern(literature_library().get("nolans")) is None


def test_lookalike_changes_one_thing() -> None:
    mp, _ = whole_pattern(literature_library().get("mountain-pass"))  # type: ignore[misc]
    eu = lookalike(mp, "eu")
    keep = [i for i, e in enumerate(REY) if e not in ("Eu", "Ce")]
    ratio = eu[keep] / mp[keep]
    assert np.allclose(ratio, ratio[0])  # every other element keeps its proportion
    assert (eu[REY.index("Eu")] / mp[REY.index("Eu")]) / ratio[0] == pytest.approx(0.4)


def test_lab_assays_read_back_through_the_csv_path_give_the_same_features() -> None:
    """A generated oxide wt% report written as CSV and parsed gives the generator's own censoring and
    features (the parser and the evaluation see the same assay)."""
    model = default_model()
    gen, _ = truth_patterns()
    profile = PROFILES[2]
    a = gen.draw(profile, 2, "ore", salt=7)
    obs = a.observe(model.space)
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY)]
    lines = [",".join(header)]
    for i in range(len(a.labels)):
        cells = [
            f"<{float(a.limits[i, j])!r}" if a.censored[i, j] else repr(float(a.ppm[i, j])) for j in range(15)
        ]
        lines.append(",".join([f"s{i}", "ore", *cells]))
    parsed = parse_assay_csv("\n".join(lines) + "\n")
    for i, s in enumerate(parsed):
        assert set(s.detection_limits) == {REY[j] for j in range(15) if a.censored[i, j]}
        back = model.space.observe(
            np.array([[s.ppm.get(e, 0.0) for e in REY]]),
            censored=np.array([[e in s.detection_limits for e in REY]]),
            limits=np.array([[s.detection_limits.get(e, 0.0) for e in REY]]),
        )
        assert np.allclose(back.x[0], obs.x[i], equal_nan=True)


def test_evaluation_on_lab_profiles_reports_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    for p in PROFILES:
        assert f"| {p.name} | ore |" in out and f"| {p.name} | concentrate |" in out
    assert "rejected at 5% false rejection" in out and ("met" in out)


def test_trace_icpms_meets_the_identification_and_declaration_targets_on_the_literature_library() -> None:
    model = default_model()
    f = evaluate_profile(model, PROFILES[0], "concentrate", 80)
    assert f.top1 >= 0.95
    assert f.truthful_inconsistent <= 0.02
    assert f.false_deposit_vouching >= 0.9
    assert f.false_country >= 0.9


# --- libraries from samples ---------------------------------------------------------------------------------


def test_library_build_from_certified_samples(tmp_path: Path) -> None:
    text = certified_samples_csv(10)
    samples = parse_reference_samples(text)
    assert len({s.lab for s in samples}) > 1
    data = build_library(samples, "crm.csv", text.encode(), "2026-12-06T00:00:00+00:00")
    library = library_from_dict(data, "built")
    assert library.lab_bias_sd is not None and 0.0 < library.lab_bias_sd < 0.2
    assert data["provenance"]["samples"] == len(samples)
    assert all(d.status == "measured" and d.source in data["sources"] for d in library.deposits)
    assert {d.id for d in library.deposits} == {d.id for d in truth_patterns()[1]}
    json.dumps(data, allow_nan=False)


def test_lab_bias_is_recovered_from_labs_that_disagree() -> None:
    """Two labs reading every element 20% apart (log 0.182): the between-lab log-sd of their means is
    0.182 / sqrt(2) = 0.129 (two values differing by d have sd d / sqrt(2))."""
    rng = np.random.default_rng(1)
    rows = []
    header = ["deposit", "country", "lab", "method", "form", *(f"{e} (ppm)" for e in REY)]
    base = np.array([literature_library().get("mountain-pass").shares[e].centre_pct for e in REY]) * 100
    for lab, factor in (("A", 1.0), ("B", 1.2)):
        for _ in range(40):
            ppm = base * np.exp(rng.normal(0, 0.02, 15))
            ppm[:4] *= factor  # La, Ce, Pr, Nd read high by lab B
            rows.append(",".join(["mp", "US", lab, "icp-ms", "concentrate", *(f"{v:.6g}" for v in ppm)]))
    samples = parse_reference_samples(",".join(header) + "\n" + "\n".join(rows) + "\n")
    centres = {"mp": np.array([np.nan] * 15)}
    from raretrace.fingerprint.build import _features

    x, _ = _features(samples)
    centres["mp"] = x.mean(axis=0)
    tau = lab_bias_sd(samples, centres)
    # closure spreads lab B's La-Nd excess over all 15 shares; the pooled between-lab sd is that of
    # the per-element log differences between the labs, over sqrt(2), averaged in variance
    xa, xb = x[:40].mean(axis=0), x[40:].mean(axis=0)
    expected = math.sqrt(float(np.mean((xa - xb) ** 2 / 2)))
    assert tau == pytest.approx(expected, rel=0.1)


def test_reference_samples_errors_name_row_and_column() -> None:
    header = "deposit,country,lab,method,form," + ",".join(f"{e} (ppm)" for e in REY)
    row = ",".join(["mp", "XX", "A", "m", "ore", *["1"] * 15])
    with pytest.raises(ValidationError) as e:
        parse_reference_samples(header + "\n" + row + "\n")
    assert e.value.field == "country" and e.value.context == "row 2"
    with pytest.raises(ValidationError) as e:
        parse_reference_samples(header.replace("lab,", "") + "\n" + row.replace("A,", "") + "\n")
    assert e.value.field == "lab"
    row = ",".join(["mp", "US", "A", "m", "ore", *["1"] * 15])
    with pytest.raises(ValidationError, match="at least 3"):
        build_library(parse_reference_samples(header + "\n" + row + "\n"), "f", b"", "t")


def test_cli_library_build_and_use(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    from tests.test_cli import Cli

    cli = Cli(tmp_path, capsysbinary, "")
    samples = tmp_path / "crm.csv"
    samples.write_text(certified_samples_csv(3))
    out_file = tmp_path / "lib.json"
    code, out, err = cli(
        "fingerprint", "library", "build", str(samples), "-o", str(out_file), "--json", db=False
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["provenance"]["sha256"] and out_file.exists()
    # the built library is used by the check through --library
    gen, kept = truth_patterns()
    a = gen.draw(PROFILES[0], 1, "concentrate", salt=9)
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY)]
    lines = [",".join(header)]
    for i in range(len(a.labels)):
        cells = [f"<{a.limits[i, j]:.6g}" if a.censored[i, j] else f"{a.ppm[i, j]:.6g}" for j in range(15)]
        lines.append(",".join([kept[int(a.labels[i])].id, "concentrate", *cells]))
    assays = tmp_path / "assays.csv"
    assays.write_text("\n".join(lines) + "\n")
    code, out, err = cli("fingerprint", str(assays), "--library", str(out_file), "--json", db=False)
    assert code == 0, err
    result = json.loads(out)
    assert result["library"]["origin"] == str(out_file)
    hits = [s["candidates"][0]["deposit"] == s["sample"] for s in result["samples"]]
    assert sum(hits) >= len(hits) - 1
    # a bad samples file: non-zero exit, nothing written
    bad = tmp_path / "bad.csv"
    bad.write_text("deposit,country\nmp,US\n")
    other = tmp_path / "other.json"
    code, _, err = cli("fingerprint", "library", "build", str(bad), "-o", str(other), db=False)
    assert code == 2 and "lab" in err and not other.exists()
    # the shipped library says what it is
    assert "literature" in load_library().title.lower() or "fingerprints" in load_library().title.lower()


# --- newly sourced figures ----------------------------------------------------------------------------------


def test_every_newly_sourced_figure_is_cited_and_compared_with_the_library() -> None:
    """Each row of the sourced figures (deposits-ree-distributions.csv) that concerns a library deposit is
    recorded with a known source and a result; the library value recorded is recomputed here from the raw
    distribution (geometric centre of a range; renormalised rows rescaled to 100), and the result says
    'conflict' exactly where the figures disagree by more than 10% (or a bound is broken)."""
    data = json.loads(json.dumps(literature_library().sources))  # a plain copy
    from raretrace.fingerprint.library import library_data

    raw = library_data()
    checks = raw["literature_checks"]
    rows = {r["id"]: r for r in raw["deposits"]}
    covered = {c["deposit"] for c in checks}
    for deposit in ("longnan", "xunwu", "bayan-obo", "kvanefjeld", "serra-verde", "nolans", "browns-range"):
        assert deposit in covered
    for c in checks:
        assert c["source"] in data and c["result"]
        row = rows[c["deposit"]]
        members = c["figure"].split("+")
        if c["library_value"] is None or c["result"].startswith("used"):
            continue
        dist = row["distribution"]

        def centre(v: float | list[float]) -> float:
            return math.sqrt(v[0] * v[1]) if isinstance(v, list) else float(v)

        total = sum(centre(dist[m]) for m in members if m in dist)
        if row.get("renormalize"):
            total *= 100 / sum(centre(v) for v in dist.values())
        assert c["library_value"] == pytest.approx(total, abs=1e-3), c
        complete = all(m in dist for m in members)
        if not complete:
            assert ("conflict" in c["result"]) == (total > c["value"] * 1.02), c
        elif c["relation"] == "≥":
            assert ("conflict" in c["result"]) == (total < c["value"] * 0.98), c
        elif not c["result"].startswith("conflict, unresolved"):
            assert ("conflict" in c["result"]) == (abs(total - c["value"]) / c["value"] > 0.10), c


def test_a_report_too_coarse_to_judge_is_indeterminate_not_accused() -> None:
    """Oxide wt% to three decimals of a 0.05-0.3% TREO ore: most REY are censored or rounded past 10%. Such
    reports are neither cleared nor accused, whatever is declared."""
    model = default_model()
    gen, _kept = truth_patterns()
    a = gen.draw(PROFILES[2], 40, "ore", salt=11)
    observed = a.observe(model.space)
    scores = model.scores(observed)
    precise = observed.precise_count()
    # counted independently: measured REY whose rounding (one unit of 0.001 wt% oxide) is at most 10%
    unit = 0.001 * 1e4 * np.array([oxide_factor(e) for e in REY]) / math.sqrt(12)
    with np.errstate(invalid="ignore"):
        expected = np.sum(~a.censored & (unit / a.ppm <= 0.10), axis=1)
    assert (precise == expected).all()
    coarse = precise < 9
    assert coarse.any() and (~coarse).any()
    ids = [d.id for d in model.deposits]
    for j in range(len(ids)):
        declared = np.arange(len(ids)) == j
        v = declared_verdicts(
            model,
            scores,
            declared,
            np.ones((len(precise), len(ids)), bool),
            np.ones(len(precise), bool),
            precise,
        )
        assert (v.status[coarse] == "indeterminate").all()
        assert all("finer assay" in r for r, c in zip(v.reason, coarse, strict=True) if c)
