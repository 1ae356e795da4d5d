"""Assays made the way laboratories report them, by a generator that is not the model's.

The model is trained on ``simulate`` (log-normal shares, Student-t noise, one detection limit). The evaluation
must not grade its own homework, so this module draws test assays differently, from the same literature
figures (there is nothing else to draw them from):

* **Whole patterns.** A lab reports all 15 REY. For a near-complete reference the elements without a figure
  are interpolated in chondrite-normalised space (McDonough & Sun 1995 CI chondrite), log-linearly between
  the nearest elements with a figure by atomic number (flat beyond the ends), Y from Ho at the chondritic
  Y/Ho: REE patterns are smooth apart from Ce and Eu anomalies, which only figures can give. The filled row is
  closed to 100%. Partial references (fewer than ``COMPLETE_MIN`` figures) cannot be completed honestly and
  are not drawn.
* **Reference error.** A deposit's true centre is its figure times a log-normal factor fixed per evaluation
  (log-sd ``ref_error_sd`` for approximate figures, twice that for interpolated elements, none for published).
* **Natural variation** of a different family: a smooth random curve across the pattern (slope and curvature
  in atomic-number position) plus Laplace-distributed element noise (heavier tails than the model's
  Student-t, equal variance to the library's unwidened spread for the element's abundance class, times a
  per-deposit factor of 0.8-1.2).
* **Admixtures**: a share (by TREO mass) of a second deposit's ore mixed in.
* **Lab profiles** (``PROFILES``): each with its own detection limits, precision, reporting (ppm to three
  significant figures, or oxide wt% to three decimals), heavy-tailed analytical error (Student-t, 3 d.o.f.),
  1% gross outliers, and an inter-laboratory bias per lab and element (five labs per profile).

The detection limits and precisions are typical published instrument figures for each technique, stated as
assumptions in ``PROFILES``; no figure here is fitted to the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.elements import oxide_factor
from raretrace.fingerprint.features import FeatureSpace, Observed
from raretrace.fingerprint.isotopes import present_day_epsilon
from raretrace.fingerprint.library import REY, Deposit

#: CI chondrite, ppm (McDonough & Sun 1995, Chem. Geol. 120:223-253; as pyrolite's ``Chondrite_MS95``).
CHONDRITE_MS95: Final = {
    "La": 0.237, "Ce": 0.613, "Pr": 0.0928, "Nd": 0.457, "Sm": 0.148, "Eu": 0.0563, "Gd": 0.199,
    "Tb": 0.0361, "Dy": 0.246, "Ho": 0.0546, "Er": 0.16, "Tm": 0.0247, "Yb": 0.161, "Lu": 0.0246, "Y": 1.57,
}  # fmt: skip
_LANTHANIDES: Final = REY[:14]
_POS: Final = np.linspace(-1.0, 1.0, 14)
ELEMENT_PER_OXIDE: Final = np.array([oxide_factor(e) for e in REY])
_CHONDRITE: Final = np.array([CHONDRITE_MS95[e] for e in REY])
GRADES: Final = {"ore": (0.0005, 0.10), "concentrate": (0.20, 0.70)}


@dataclass(frozen=True)
class LabProfile:
    name: str
    description: str
    limits_ppm: tuple[float, ...]  # element ppm, REY order
    rsd: float
    bias_sd: float
    oxide_decimals: int | None = None  # reports oxide wt% to this many decimals; None = ppm
    sig_figs: int = 3
    tail_dof: float = 3.0
    outlier_rate: float = 0.01
    n_labs: int = 5
    #: whether the lab also reports 143Nd/144Nd (as present-day epsilon-Nd) and 87Sr/86Sr
    isotopes: bool = False
    eps_nd_sd: float = 0.2  # 1-sigma, epsilon units
    sr_sd: float = 0.00001  # 1-sigma


def _oxide_limits(wt_pct: float) -> tuple[float, ...]:
    return tuple(wt_pct * 1e4 * oxide_factor(e) for e in REY)


PROFILES: Final = (
    LabProfile(
        "trace ICP-MS",
        "lithium-borate fusion ICP-MS, ppm to 3 significant figures; limits 0.01-0.05 ppm (Y 0.1)",
        tuple(0.1 if e == "Y" else (0.05 if e in ("La", "Ce", "Nd") else 0.01) for e in REY),
        rsd=0.03,
        bias_sd=0.04,
    ),
    LabProfile(
        "ore-grade ICP-OES",
        "peroxide fusion ICP-OES, ppm to 3 significant figures; limits 1-10 ppm",
        tuple(
            {
                "La": 5,
                "Ce": 10,
                "Pr": 10,
                "Nd": 5,
                "Sm": 5,
                "Eu": 1,
                "Gd": 5,
                "Tb": 5,
                "Dy": 3,
                "Ho": 3,
                "Er": 3,
                "Tm": 2,
                "Yb": 1,
                "Lu": 1,
                "Y": 2,
            }[e]
            * 1.0
            for e in REY
        ),
        rsd=0.05,
        bias_sd=0.06,
    ),
    LabProfile(
        "oxide wt%",
        "oxides in wt% to 3 decimals (XRF / ICP-OES reports); limit 0.002 wt% of each oxide",
        _oxide_limits(0.002),
        rsd=0.04,
        bias_sd=0.06,
        oxide_decimals=3,
    ),
    LabProfile(
        "trace ICP-MS + Nd-Sr isotopes",
        "trace ICP-MS as above, plus 143Nd/144Nd (as epsilon-Nd) and 87Sr/86Sr by TIMS or MC-ICP-MS; 1-sigma "
        "0.2 epsilon units and 0.00001",
        tuple(0.1 if e == "Y" else (0.05 if e in ("La", "Ce", "Nd") else 0.01) for e in REY),
        rsd=0.03,
        bias_sd=0.04,
        isotopes=True,
    ),
)


#: How the isotopes of deposits without a published figure are drawn (the look-alikes, and library deposits
#: that have none), assumptions bracketed by published figures:
#: * initial epsilon-Nd uniform on [-13, +6]: carbonatite sources span Huangshuian, Qinling (-10.4 to -12.8,
#:   Zhao et al. 2024, Minerals 14:953), the Kola carbonatites (a mixing line through bulk earth, 0; Kramm
#:   1993, Eur. J. Mineral. 5:985) and Guli, Maimecha-Kotui (about +5.8; Doklady Earth Sci. 2018,
#:   doi:10.1134/S1028334X18050240);
#: * 87Sr/86Sr uniform on [0.7024, 0.7060]: Bayan Obo 0.7024-0.7047 (Song et al. 2018, Li et al. 2024),
#:   Tamil Nadu carbonatites 0.7045-0.7054 (J. Petrol. 39:1765, 1998), Huangshuian 0.70599-0.70603;
#: * age log-uniform between the youngest and oldest published ages of the library (Mianning-Dechang about
#:   27 Ma, Mount Weld 2025 Ma); a library deposit with a published age keeps it;
#: * within a deposit, initial epsilon-Nd varies with 1-sigma 0.6 and 87Sr/86Sr with 0.0006 (Bayan Obo's
#:   published spreads, the only ones in the library), uniformly distributed.
@dataclass(frozen=True)
class IsotopePopulation:
    eps_initial: tuple[float, float] = (-13.0, 6.0)
    sr: tuple[float, float] = (0.7024, 0.7060)
    age_ma: tuple[float, float] = (27.0, 2025.0)
    eps_sd: float = 0.6
    sr_sd: float = 0.0006


ISOTOPE_POPULATION: Final = IsotopePopulation()


@dataclass(frozen=True)
class IsotopeTruth:
    """Per pattern: age (Ma), centre and within-deposit 1-sigma of the initial epsilon-Nd and of 87Sr/86Sr."""

    age_ma: NDArray[np.float64]
    eps_initial: NDArray[np.float64]
    eps_sd: NDArray[np.float64]
    sr: NDArray[np.float64]
    sr_sd: NDArray[np.float64]

    @staticmethod
    def population(
        n: int, rng: np.random.Generator, age_ma: NDArray[np.float64] | None = None
    ) -> IsotopeTruth:
        """``n`` deposits drawn from ``ISOTOPE_POPULATION`` (ages given where known, NaN = draw one)."""
        pop = ISOTOPE_POPULATION
        lo, hi = pop.age_ma
        drawn = np.exp(rng.uniform(math.log(lo), math.log(hi), size=n))
        age = drawn if age_ma is None else np.where(np.isnan(age_ma), drawn, age_ma)
        return IsotopeTruth(
            age,
            rng.uniform(*pop.eps_initial, size=n),
            np.full(n, pop.eps_sd),
            rng.uniform(*pop.sr, size=n),
            np.full(n, pop.sr_sd),
        )

    @staticmethod
    def of_deposits(deposits: Sequence[Deposit], rng: np.random.Generator) -> IsotopeTruth:
        """The deposits' published figures where they have them (initial epsilon-Nd with its age, 87Sr/86Sr
        with its range), the population elsewhere (with the deposit's published age, if any)."""
        ages = np.array([_published_age(d) for d in deposits])
        truth = IsotopeTruth.population(len(deposits), rng, ages)
        eps, eps_sd = truth.eps_initial.copy(), truth.eps_sd.copy()
        sr, sr_sd = truth.sr.copy(), truth.sr_sd.copy()
        age = truth.age_ma.copy()
        for i, d in enumerate(deposits):
            e = d.isotope("eNd_initial")
            if e is not None and e.age_ma is not None:
                eps[i], eps_sd[i], age[i] = e.mean, e.sd, e.age_ma
            r = d.isotope("87Sr/86Sr")
            if r is not None:
                sr[i], sr_sd[i] = r.mean, r.sd
        return IsotopeTruth(age, eps, eps_sd, sr, sr_sd)

    def tile(self, reps: int) -> IsotopeTruth:
        return IsotopeTruth(*(np.tile(getattr(self, f), reps) for f in _TRUTH_FIELDS))


_TRUTH_FIELDS: Final = ("age_ma", "eps_initial", "eps_sd", "sr", "sr_sd")


def _published_age(deposit: Deposit) -> float:
    """A deposit's published age in Ma (the middle of a range), NaN where the library gives none."""
    for age in deposit.raw.get("ages") or []:
        value = age.get("value_ma")
        if isinstance(value, list) and len(value) == 2:
            return (float(value[0]) + float(value[1])) / 2
        if isinstance(value, int | float):
            return float(value)
    return math.nan


def whole_pattern(deposit: Deposit) -> tuple[NDArray[np.float64], NDArray[np.bool_]] | None:
    """(oxide shares of all 15 REY summing to 1, mask of the interpolated elements) of a reference with at
    least ``COMPLETE_MIN`` single figures; None for a partial one."""
    if not deposit.complete_pattern:
        return None
    known = np.array([e in deposit.shares for e in REY])
    oxide = np.array([deposit.shares[e].centre_pct if e in deposit.shares else np.nan for e in REY])
    norm = np.log(oxide * ELEMENT_PER_OXIDE / _CHONDRITE)  # chondrite-normalised element amounts
    lan = norm[:14]
    have = ~np.isnan(lan)
    filled = np.interp(_POS, _POS[have], lan[have])  # linear inside, flat beyond the ends
    out = np.concatenate([np.where(have, lan, filled), [norm[14]]])
    if np.isnan(out[14]):
        out[14] = out[REY.index("Ho")]  # Y follows Ho at the chondritic ratio
    shares = np.exp(out) * _CHONDRITE / ELEMENT_PER_OXIDE
    return shares / shares.sum(), ~known


@dataclass(frozen=True)
class LabAssays:
    ppm: NDArray[np.float64]  # n x 15 reported (element ppm; censored entries hold nan)
    censored: NDArray[np.bool_]
    limits: NDArray[np.float64]  # n x 15 element ppm
    sd_ppm: NDArray[np.float64]  # n x 15 rounding uncertainty of the reported value (element ppm)
    labels: NDArray[np.int64]  # index of the true (main) deposit in the list given
    lab: NDArray[np.int64]
    partner: NDArray[np.int64] | None = None  # index of the admixed deposit (None: no admixture)
    isotopes: NDArray[np.float64] | None = None  # n x 2: present-day epsilon-Nd, 87Sr/86Sr; None: none
    fraction: NDArray[np.float64] | None = None  # share of the TREO from ``partner`` (None: no admixture)

    def observe(self, space: FeatureSpace) -> Observed:
        return space.observe(
            np.nan_to_num(self.ppm, nan=0.0), censored=self.censored, limits=self.limits, sd_ppm=self.sd_ppm,
            isotopes=self.isotopes,
        )  # fmt: skip


class LabGenerator:
    """Draws lab assays of given whole patterns (rows of ``patterns``, oxide shares summing to 1)."""

    def __init__(
        self, patterns: NDArray[np.float64], log_sd: NDArray[np.float64], seed: int, iso: IsotopeTruth
    ) -> None:
        self.patterns = patterns
        self.log_sd = log_sd  # per pattern and element: natural log-sd of the deposit
        self.seed = seed
        self.iso = iso

    @staticmethod
    def from_deposits(
        deposits: tuple[Deposit, ...], seed: int, ref_error_sd: float = 0.10
    ) -> tuple[LabGenerator, tuple[Deposit, ...]]:
        """A generator of the deposits that can be completed (the others are dropped, and the kept ones
        returned), with reference error drawn once from ``seed``."""
        rng = np.random.default_rng(seed)
        kept, rows, sds = [], [], []
        for d in deposits:
            whole = whole_pattern(d)
            if whole is None:
                continue
            shares, filled = whole
            published = np.array([d.status_of(e) == "published" for e in REY]) & ~filled
            err = np.where(filled, 2 * ref_error_sd, np.where(published, 0.0, ref_error_sd))
            shares = shares * np.exp(rng.normal(0.0, 1.0, 15) * err)
            rows.append(shares / shares.sum())
            sds.append(natural_sd(shares) * rng.uniform(0.8, 1.2))
            kept.append(d)
        # drawn after the patterns, so the patterns stay those of a generator without isotopes
        iso = IsotopeTruth.of_deposits(kept, rng)
        return LabGenerator(np.array(rows), np.array(sds), seed + 1, iso), tuple(kept)

    def true_shares(
        self, labels: NDArray[np.int64], rng: np.random.Generator, admix: tuple[float, float] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None, NDArray[np.float64] | None]:
        """True oxide shares (n x 15) and, with ``admix``, the deposit mixed in and its share of the TREO."""
        n = len(labels)
        base = np.log(self.patterns[labels])
        slope = rng.normal(0.0, 0.12, size=(n, 1))
        curve = rng.normal(0.0, 0.06, size=(n, 1))
        pos = np.append(_POS, _POS[REY.index("Ho")])
        smooth = slope * pos + curve * (pos**2 - 1.0 / 3.0)
        noise = rng.laplace(0.0, 1.0 / math.sqrt(2.0), size=(n, 15)) * self.log_sd[labels]
        shares = np.exp(base + smooth + noise)
        shares /= shares.sum(axis=1, keepdims=True)
        if admix is None:
            return np.asarray(shares, dtype=float), None, None
        other = (labels + rng.integers(1, len(self.patterns), size=n)) % len(self.patterns)
        frac = rng.uniform(admix[0], admix[1], size=(n, 1))
        mixed = (1 - frac) * shares + frac * self.patterns[other]
        return np.asarray(mixed, dtype=float), other, frac[:, 0]

    def true_isotopes(
        self,
        labels: NDArray[np.int64],
        shares: NDArray[np.float64],
        rng: np.random.Generator,
        partner: NDArray[np.int64] | None = None,
        frac: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """n x 2 true present-day epsilon-Nd and 87Sr/86Sr of samples with true oxide ``shares``: each
        sample's initial epsilon-Nd (uniform around its deposit's centre) evolved since the deposit's age
        with the sample's own Sm/Nd. A blend's epsilon-Nd is the Nd-weighted mean of its parts (mass balance
        of 143Nd and 144Nd); its 87Sr/86Sr the TREO-weighted mean (an assumption: no Sr figures)."""
        iso = self.iso
        half = math.sqrt(3.0)  # a uniform of half-width sd x sqrt(3) has that sd

        def own(idx: NDArray[np.int64], sh: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
            eps0 = iso.eps_initial[idx] + rng.uniform(-half, half, size=len(idx)) * iso.eps_sd[idx]
            element = sh * ELEMENT_PER_OXIDE
            sm_nd = element[:, REY.index("Sm")] / element[:, REY.index("Nd")]
            age = iso.age_ma[idx]
            eps = np.empty(len(idx))
            for a in np.unique(age):
                at = age == a
                eps[at] = present_day_epsilon(eps0[at], float(a), sm_nd[at])
            sr = iso.sr[idx] + rng.uniform(-half, half, size=len(idx)) * iso.sr_sd[idx]
            return eps, sr, element[:, REY.index("Nd")]

        if partner is None or frac is None:
            eps, sr, _ = own(labels, shares)
            return np.column_stack([eps, sr])
        main = (shares - frac[:, None] * self.patterns[partner]) / (1 - frac[:, None])
        eps_a, sr_a, nd_a = own(labels, main)
        eps_b, sr_b, nd_b = own(partner, self.patterns[partner])
        wa, wb = (1 - frac) * nd_a, frac * nd_b
        return np.column_stack([(wa * eps_a + wb * eps_b) / (wa + wb), (1 - frac) * sr_a + frac * sr_b])

    def draw(
        self,
        profile: LabProfile,
        n_per: int,
        form: str,
        *,
        admix: tuple[float, float] | None = None,
        salt: int = 0,
        isotopes: bool | None = None,
    ) -> LabAssays:
        """``n_per`` assays of every pattern as ``profile`` reports them (with Nd-Sr isotopes where the
        profile measures them, or ``isotopes`` says so)."""
        rng = np.random.default_rng([self.seed, salt, PROFILES.index(profile) if profile in PROFILES else 9])
        k = len(self.patterns)
        labels = np.repeat(np.arange(k), n_per)
        shares, partner, frac = self.true_shares(labels, rng, admix)
        lo, hi = GRADES[form]
        grade = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(len(labels), 1)))
        true_ppm = shares * grade * 1e6 * ELEMENT_PER_OXIDE
        bias = rng.normal(0.0, profile.bias_sd, size=(profile.n_labs, 15))
        lab = rng.integers(0, profile.n_labs, size=len(labels))
        t = rng.standard_t(profile.tail_dof, size=true_ppm.shape) * math.sqrt(
            (profile.tail_dof - 2) / profile.tail_dof
        )
        dl = np.array(profile.limits_ppm)
        measured = true_ppm * np.exp(bias[lab]) * (1 + profile.rsd * t) + rng.normal(size=t.shape) * dl / 3
        outlier = rng.random(size=t.shape) < profile.outlier_rate
        measured = np.where(outlier, measured * np.exp(rng.normal(0.0, 0.3, size=t.shape)), measured)
        reported = replace(self._report(profile, measured, dl, labels, lab), partner=partner, fraction=frac)
        if not (profile.isotopes if isotopes is None else isotopes):
            return reported
        # a separate stream, so the element reports are the same with or without isotopes
        iso_rng = np.random.default_rng([self.seed, salt, 77])
        true_iso = self.true_isotopes(labels, shares, iso_rng, partner, frac)
        err = iso_rng.standard_t(profile.tail_dof, size=true_iso.shape) * math.sqrt(
            (profile.tail_dof - 2) / profile.tail_dof
        )
        return replace(reported, isotopes=true_iso + err * np.array([profile.eps_nd_sd, profile.sr_sd]))

    @staticmethod
    def _report(
        profile: LabProfile,
        measured: NDArray[np.float64],
        dl: NDArray[np.float64],
        labels: NDArray[np.int64],
        lab: NDArray[np.int64],
    ) -> LabAssays:
        limits = np.broadcast_to(dl, measured.shape).copy()
        if profile.oxide_decimals is not None:
            unit = 10.0**-profile.oxide_decimals * 1e4 * ELEMENT_PER_OXIDE  # ppm of element per digit
            reported = np.round(measured / unit) * unit
            sd = np.broadcast_to(unit / math.sqrt(12.0), measured.shape).copy()
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                digits = profile.sig_figs - 1 - np.floor(np.log10(np.abs(measured)))
                unit = 10.0 ** (-np.nan_to_num(digits, nan=0.0, posinf=0.0, neginf=0.0))
            reported = np.round(measured / unit) * unit
            sd = unit / math.sqrt(12.0)
        censored = reported < dl
        return LabAssays(np.where(censored, np.nan, reported), censored, limits, sd, labels, lab)


def natural_sd(shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """The library's unwidened natural log-sd by abundance class of each share (>= 1%: 0.15, 0.1-1%: 0.30,
    below: 0.45), the same assumption the library states, without the model's widening."""
    pct = shares * 100
    return np.where(pct >= 1.0, 0.15, np.where(pct >= 0.1, 0.30, 0.45))


def lookalike(pattern: NDArray[np.float64], kind: str, strength: float = 1.0) -> NDArray[np.float64]:
    """An out-of-library deposit that resembles ``pattern``, by one geological difference (at strength 1;
    ``strength`` scales the log change):

    * ``tilt``: steeper or flatter light-to-heavy fractionation, (La/Lu)N changed by a factor e (about 2.7);
    * ``mree``: a middle-REE (Sm-Dy) hump, x1.8;
    * ``eu``: a deeper Eu anomaly (x0.4) and a Ce anomaly change (x0.7), as oxidation and plagioclase
      fractionation give."""
    log = np.log(pattern * ELEMENT_PER_OXIDE / _CHONDRITE)
    pos = np.append(_POS, _POS[REY.index("Ho")])
    if kind == "tilt":
        log = log - strength * 0.5 * pos * (1 if log[0] > log[13] else -1)
    elif kind == "mree":
        log = log + strength * np.log(1.8) * np.array([e in ("Sm", "Eu", "Gd", "Tb", "Dy") for e in REY])
    elif kind == "eu":
        eu, ce = np.arange(15) == REY.index("Eu"), np.arange(15) == REY.index("Ce")
        log = log + strength * (np.log(0.4) * eu + np.log(0.7) * ce)
    else:
        raise ValueError(kind)
    shares = np.exp(log) * _CHONDRITE / ELEMENT_PER_OXIDE
    return np.asarray(shares / shares.sum())


LOOKALIKES: Final = ("tilt", "mree", "eu")

__all__ = [
    "CHONDRITE_MS95",
    "ISOTOPE_POPULATION",
    "LOOKALIKES",
    "PROFILES",
    "IsotopePopulation",
    "IsotopeTruth",
    "LabAssays",
    "LabGenerator",
    "LabProfile",
    "lookalike",
    "natural_sd",
    "whole_pattern",
]
