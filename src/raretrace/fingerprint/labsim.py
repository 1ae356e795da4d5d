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
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.elements import oxide_factor
from raretrace.fingerprint.features import FeatureSpace, Observed
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
)


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

    def observe(self, space: FeatureSpace) -> Observed:
        return space.observe(
            np.nan_to_num(self.ppm, nan=0.0), censored=self.censored, limits=self.limits, sd_ppm=self.sd_ppm
        )


class LabGenerator:
    """Draws lab assays of given whole patterns (rows of ``patterns``, oxide shares summing to 1)."""

    def __init__(self, patterns: NDArray[np.float64], log_sd: NDArray[np.float64], seed: int) -> None:
        self.patterns = patterns
        self.log_sd = log_sd  # per pattern and element: natural log-sd of the deposit
        self.seed = seed

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
        return LabGenerator(np.array(rows), np.array(sds), seed + 1), tuple(kept)

    def true_shares(
        self, labels: NDArray[np.int64], rng: np.random.Generator, admix: tuple[float, float] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
        """True oxide shares (n x 15) and, with ``admix``, the deposit mixed in."""
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
            return np.asarray(shares, dtype=float), None
        other = (labels + rng.integers(1, len(self.patterns), size=n)) % len(self.patterns)
        frac = rng.uniform(admix[0], admix[1], size=(n, 1))
        return np.asarray((1 - frac) * shares + frac * self.patterns[other], dtype=float), other

    def draw(
        self,
        profile: LabProfile,
        n_per: int,
        form: str,
        *,
        admix: tuple[float, float] | None = None,
        salt: int = 0,
    ) -> LabAssays:
        """``n_per`` assays of every pattern as ``profile`` reports them."""
        rng = np.random.default_rng([self.seed, salt, PROFILES.index(profile) if profile in PROFILES else 9])
        k = len(self.patterns)
        labels = np.repeat(np.arange(k), n_per)
        shares, partner = self.true_shares(labels, rng, admix)
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
        return replace(self._report(profile, measured, dl, labels, lab), partner=partner)

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
    "LOOKALIKES",
    "PROFILES",
    "LabAssays",
    "LabGenerator",
    "LabProfile",
    "lookalike",
    "natural_sd",
    "whole_pattern",
]
