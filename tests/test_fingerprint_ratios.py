"""Issue 19: trace-element ratios outside the REE (Th/U, Nb/Ta) as features, and epsilon-Nd by hand.

Expected values are computed here from the definitions (log mass ratio, delta method, sample mean and
standard deviation with ``statistics``, epsilon notation), not read from the code's output."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from raretrace.fingerprint import default_model
from raretrace.fingerprint.build import build_library
from raretrace.fingerprint.declared import check_assay
from raretrace.fingerprint.features import FeatureSpace
from raretrace.fingerprint.isotopes import epsilon_nd
from raretrace.fingerprint.library import REY, library_from_dict, literature_library
from raretrace.fingerprint.model import FingerprintModel, build_model
from raretrace.fingerprint.samples import parse_reference_samples
from raretrace.fingerprint.trace_ratios import TRACE_RATIOS, log_ratios

_TRACE = ("Th", "U", "Nb", "Ta")


def _csv(th_u: dict[str, list[float]], nb_ta: float = 14.0, seed: int = 7) -> str:
    """Concentrate samples of deposits shaped like Mountain Pass ("mp") and Longnan ("ln"): their literature
    centres (% of TREO) at 30% TREO with a 5% log-normal jitter per element, two labs, the given Th/U per
    sample (Th 2000 ppm), Nb/Ta ``nb_ta`` (Nb 700 ppm)."""
    lib = literature_library()
    rng = np.random.default_rng(seed)
    header = "deposit,country,lab,method,form," + ",".join(f"{e} (ppm)" for e in (*REY, *_TRACE))
    lines = [header]
    for dep, ref, country in (("mp", "mountain-pass", "US"), ("ln", "longnan", "CN")):
        shares = np.array([lib.get(ref).shares[e].centre_pct for e in REY])
        for i, ratio in enumerate(th_u[dep]):
            ppm = shares / shares.sum() * 3e5 * np.exp(rng.normal(0.0, 0.05, len(REY)))
            trace = (2000.0, 2000.0 / ratio, 700.0, 700.0 / nb_ta)
            cells = [f"{v:.6g}" for v in (*ppm, *trace)]
            lines.append(",".join([dep, country, f"lab {i % 2}", "icp-ms", "concentrate", *cells]))
    return "\n".join(lines) + "\n"


def test_epsilon_nd_by_hand_with_the_chur_the_library_uses() -> None:
    """Present-day epsilon-Nd = (143Nd/144Nd / CHUR - 1) x 10^4 with CHUR 0.512630 (Bouvier, Vervoort &
    Patchett 2008): the CHUR the library's isotope arithmetic uses throughout (present-day and age-corrected
    values must share one CHUR). Many older papers use 0.512638 (Jacobsen & Wasserburg 1980): the same ratio
    then reads 0.156 units lower, so a figure quoted against that CHUR is raised by 0.156 before it is
    compared."""
    ratio = 0.512138
    by_hand = (0.512138 - 0.512630) / 0.512630 * 1e4  # -9.5976
    assert epsilon_nd(ratio) == pytest.approx(by_hand, abs=1e-9)
    assert by_hand == pytest.approx(-9.5976, abs=1e-4)
    old_chur = (0.512138 - 0.512638) / 0.512638 * 1e4  # -9.7535
    assert by_hand - old_chur == pytest.approx(0.156, abs=0.001)


def test_a_trace_ratio_and_its_variance_follow_the_delta_method() -> None:
    """ln(Th/U) of 100 and 10 ppm is ln 10; with 1-sigma of 5 and 1 ppm, var = 0.05^2 + 0.1^2 = 0.0125. A
    ratio with an element not measured is not reported (NaN), never imputed."""
    values, var = log_ratios({"Th": 100.0, "U": 10.0, "Nb": 50.0}, {"Th": 5.0, "U": 1.0}, ["Th/U", "Nb/Ta"])
    assert values[0] == pytest.approx(math.log(10.0)) and var[0] == pytest.approx(0.0125)
    assert math.isnan(values[1]) and var[1] == 0.0


def test_a_uranium_column_is_not_read_as_an_uncertainty_column() -> None:
    """'U (ppm)' is uranium (the 'U ' prefix names an uncertainty only before a column: 'U U (ppm)')."""
    from raretrace.fingerprint import parse_assay_csv

    header = ["form", *(f"{e} (ppm)" for e in REY), "Th (ppm)", "U (ppm)", "U U (ppm)", "U ppm"]
    with pytest.raises(Exception, match="repeats"):  # two uranium columns
        parse_assay_csv(",".join(header) + "\n")
    header = header[:-1]
    row = ["ore", *(["10"] * len(REY)), "2000", "200", "5"]
    sample = parse_assay_csv(",".join(header) + "\n" + ",".join(row) + "\n")[0]
    assert sample.ppm["U"] == 200.0 and sample.ppm["Th"] == 2000.0
    assert sample.uncertainties["U"] == pytest.approx(math.hypot(5.0, 1.0 / math.sqrt(12.0)))


def test_a_feature_space_has_a_ratio_column_only_when_asked_and_its_bias_counts_two_elements() -> None:
    plain, with_ratios = FeatureSpace(()), FeatureSpace((), ["Nb/Ta", "Th/U", "Ce/Yb"])
    assert plain.ratios == () and len(with_ratios) == len(plain) + 2
    assert with_ratios.ratios == ("Th/U", "Nb/Ta")  # the order of TRACE_RATIOS; Ce/Yb is not a feature
    weights = with_ratios.bias_weights()
    assert weights[with_ratios.key_index("Th/U")] == 2.0 and weights[with_ratios.key_index("eNd")] == 0.0
    assert weights[with_ratios.key_index("La")] == 1.0
    obs = with_ratios.observe(
        np.full((1, len(REY)), 10.0), ratios=(np.array([[1.0, np.nan]]), np.array([[0.01, 0.0]]))
    )
    assert obs.x[0, with_ratios.key_index("Th/U")] == 1.0 and np.isnan(
        obs.x[0, with_ratios.key_index("Nb/Ta")]
    )
    assert obs.var is not None and obs.var[0, with_ratios.key_index("Th/U")] == 0.01


def test_only_published_trace_ratios_enter_the_shipped_library() -> None:
    """None was found (docs/fingerprint.md records the searches), so the literature model has no ratio column;
    any trace ratio added later must be a published figure with its source."""
    for d in literature_library().deposits:
        for r in d.ratios:
            if r.ratio in TRACE_RATIOS:
                assert r.status.startswith("published") and r.source
    assert default_model().space.ratios == ()


def test_library_build_fits_each_trace_ratio_its_samples_measure() -> None:
    """The geometric mean and the sample sd of the log ratio (written out with ``statistics``) become the
    deposit's measured figure; a sample with Ta below detection gives no Nb/Ta; a ratio fewer than 3 samples
    measure gets no figure."""
    th_u = {"mp": [8.0, 10.0, 12.5, 9.0], "ln": [0.5, 0.6, 0.4]}
    text = _csv(th_u)
    rows = text.splitlines()
    head = rows[0].split(",")
    ta = head.index("Ta (ppm)")
    cells = rows[5].split(",")  # the first "ln" sample
    cells[ta] = "<0.5"
    rows[5] = ",".join(cells)
    cells = rows[6].split(",")
    cells[ta] = "<0.5"
    rows[6] = ",".join(cells)
    text = "\n".join(rows) + "\n"
    data = build_library(parse_reference_samples(text), "crm.csv", text.encode(), "2026-12-07T00:00:00+00:00")
    library = library_from_dict(data, "built")
    mp, ln = library.get("mp"), library.get("ln")
    logs = [math.log(r) for r in th_u["mp"]]
    ref = mp.trace_ratio("Th/U")
    assert ref is not None and ref.status == "measured" and ref.source in data["sources"]
    assert ref.log_centre == pytest.approx(statistics.mean(logs), abs=1e-6)
    assert ref.log_sd == pytest.approx(statistics.stdev(logs), rel=1e-4)
    assert ln.trace_ratio("Th/U") is not None
    assert ln.trace_ratio("Nb/Ta") is None  # 2 of its 3 samples have Ta below detection


@pytest.fixture(scope="module")
def ratio_model() -> FingerprintModel:
    """A model of a library built from samples of two deposits that report Th/U (and Nb/Ta)."""
    text = _csv({"mp": [8.0, 10.0, 12.5, 9.0, 11.0, 10.5], "ln": [0.5, 0.6, 0.4, 0.55, 0.45, 0.5]})
    data = build_library(parse_reference_samples(text), "crm.csv", text.encode(), "t")
    return build_model(library_from_dict(data, "built with trace ratios"))


def test_a_lookalike_with_another_th_u_fails_its_declaration_only_when_th_and_u_are_reported(
    ratio_model: FingerprintModel,
) -> None:
    """A Mountain-Pass-like concentrate declared as "mp": consistent with the deposit's own Th/U (10) or
    without Th and U; inconsistent with Th/U 1,000 (a look-alike of another source: 4.6 natural log units,
    tens of the deposit's spreads, away). A processed form never uses the ratio."""
    model = ratio_model
    assert model.space.ratios == ("Th/U", "Nb/Ta")
    lib = literature_library()
    shares = np.array([lib.get("mountain-pass").shares[e].centre_pct for e in REY])
    rey = dict(zip(REY, (shares / shares.sum() * 3e5).tolist(), strict=True))

    def status(extra: dict[str, float], form: str = "concentrate") -> tuple[str | None, tuple[str, ...]]:
        r = check_assay(rey | extra, form, "mp", model=model, descriptors=False)
        return r.status, r.features_used

    own, used = status({"Th": 2000.0, "U": 200.0, "Nb": 700.0, "Ta": 50.0})
    assert own == "consistent" and "Th/U" in used and "Nb/Ta" in used
    assert status({})[0] == "consistent"
    assert status({"Th": 2000.0, "U": 2.0})[0] == "inconsistent"
    only_th = check_assay(rey | {"Th": 2000.0}, "concentrate", "mp", model=model, descriptors=False)
    assert "Th/U" not in only_th.features_used and "needs both Th and U" in only_th.features_ignored["Th"]
    metal = check_assay({"Th": 2000.0, "U": 2.0}, "metal", model=model, descriptors=False)
    assert "separates" in metal.features_ignored["Th"]


def test_the_shipped_library_says_it_has_no_figure_for_a_reported_ratio() -> None:
    model = default_model()
    shares = next(d for d in model.deposits if d.id == "mountain-pass").shares
    rey = {e: shares[e].centre_pct * 3000 for e in REY}
    r = check_assay(rey | {"Th": 2000.0, "U": 200.0}, "concentrate", descriptors=False)
    assert r.features_ignored["Th"] == "the library has no reference figure for Th/U"
    assert "Th/U" not in r.features_used
