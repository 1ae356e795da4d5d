"""Simulated assays: natural within-deposit variation plus realistic analytical noise.

The reference library gives each deposit's shares as log-normals (centre, log-sd). A simulated sample:

1. draws each known share with Student-t (6 d.o.f.) log-noise scaled to the deposit's log-sd (heavier tails
   than the model assumes), plus one shared light-to-heavy slope per sample (log-sd ``slope_sd`` from La to
   Lu), so elements vary together as fractionation makes them; where the reference does not cover every
   REY, also the remainders (``Deposit.remainders``: what a group figure holds beyond its published
   members, and the unpublished rest of the composition), then closes the sample (all parts sum to the
   whole), so that no sample has shares summing past 100% or a group smaller than its own members;
2. draws a grade (TREO, log-uniform over the form's range) and turns shares into element ppm;
3. adds analytical noise: relative standard deviation ``rsd`` plus an absolute term of a third of the
   detection limit, and optionally a lab bias (a log-normal factor per sample and element, ``lab_bias_sd``);
   a reading below the detection limit is reported as "< DL" (censored; ``ppm`` holds 0.65 x DL there
   for callers that need a number, the features keep it censored);
4. adds isotope values where the deposit has sourced ones: epsilon-Nd evolved to today with this
   sample's own Sm/Nd (``isotopes.present_day_epsilon``), or a present-day epsilon-Nd as measured on
   reference samples, and 87Sr/86Sr, each with measurement noise.

Elements without a sourced figure are not reported (NaN): a deposit is never given numbers it lacks. So an
assay simulated from a reference that publishes only some of the 15 REY (``Deposit.published_rey``) is an
assay of those elements only, with their shares of the sample's total rare-earth oxide as a lab would sum
it (``_lab_total``); only a ``Deposit.full_pattern`` reference yields the complete 15-element assay a lab
reports. The evaluation says which kind each figure was measured on. A group figure a source gives instead
of single elements ("Pr+Nd") is reported as that sum of the sample's parts. The noise parameters are
modelling assumptions, stated in ``Noise`` and printed by the evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.fingerprint.features import BELOW_DL_FRACTION, OXIDE_PER_ELEMENT, FeatureSpace, Observed
from raretrace.fingerprint.isotopes import present_day_epsilon, sm147_nd144
from raretrace.fingerprint.library import REST, REY, Deposit, group_members

#: TREO grade ranges (mass fraction) by form, log-uniform: ore spans ion-adsorption clays (~0.05%) to
#: carbonatite ore (~10%); concentrates and mixed oxides are REE-rich. Assumptions, not data.
GRADES: Final = {"ore": (0.0005, 0.10), "concentrate": (0.20, 0.70), "mixed_oxide": (0.60, 0.95)}
_T_DOF: Final = 6
_SLOPE_POS: Final = np.array([*np.linspace(-1.0, 1.0, 14), 0.6])  # La..Lu, and Y placed near Ho


@dataclass(frozen=True)
class Noise:
    """Analytical noise: assumptions typical of lithium-borate fusion ICP-MS and MC-ICP-MS isotopes."""

    rsd: float = 0.03
    detection_limit_ppm: dict[str, float] = field(
        default_factory=lambda: {e: (0.5 if e == "Y" else 0.05) for e in REY}
    )
    slope_sd: float = 0.10
    lab_bias_sd: float = 0.0
    eps_nd_sd: float = 0.3
    sr_sd: float = 0.00002


@dataclass(frozen=True)
class Draws:
    features: Observed
    labels: NDArray[np.int64]
    ppm: NDArray[np.float64]
    censored: NDArray[np.bool_]


def simulate_deposit(
    deposit: Deposit,
    space: FeatureSpace,
    n: int,
    rng: np.random.Generator,
    *,
    form: str = "ore",
    noise: Noise | None = None,
    isotopes: bool = False,
    ratios: bool = False,
) -> tuple[Observed, NDArray[np.float64], NDArray[np.bool_]]:
    """``n`` simulated assays of ``deposit``: (features, element ppm in REY order, censored mask); with
    ``isotopes`` / ``ratios`` they also report the deposit's isotopes / trace ratios where it has figures.
    The steps draw from ``rng`` in the order written here: a seed gives the same assays."""
    noise = noise or Noise()
    log_share, remainder = _natural_shares(deposit, n, rng, noise)
    lo, hi = GRADES.get(form, GRADES["ore"])
    grade = np.exp(rng.uniform(math.log(lo), math.log(hi), size=n))  # TREO mass fraction
    true_ppm = np.exp(log_share) * grade[:, None] * 1e6 / OXIDE_PER_ELEMENT
    dl = np.array([noise.detection_limit_ppm[e] for e in REY])
    ppm, censored = _analysed(true_ppm, dl, rng, noise)
    total = None if deposit.full_pattern else _lab_total(ppm, log_share, grade, noise, rng)
    iso = _isotopes(deposit, true_ppm, rng, noise) if isotopes else np.full((n, 2), np.nan)
    observed = space.observe(
        ppm, censored=censored, limits=np.broadcast_to(dl, ppm.shape), isotopes=iso,
        ratios=_trace_ratios(deposit, space, n, rng, noise) if ratios else None, total_oxide_ppm=total,
    )  # fmt: skip
    _group_sums(deposit, space, observed.x, (log_share, remainder), rng, noise)
    return observed, ppm, censored


def _natural_shares(
    deposit: Deposit, n: int, rng: np.random.Generator, noise: Noise
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Step 1: (log share of each REY, NaN where the deposit has no figure; log share of each remainder),
    Student-t about the deposit's figures plus one light-to-heavy slope per sample, closed to one whole
    where the reference leaves REY out."""
    t_scale = math.sqrt((_T_DOF - 2) / _T_DOF)  # unit variance
    slope = rng.normal(0.0, noise.slope_sd, size=(n, 1)) * _SLOPE_POS
    log_share = np.full((n, len(REY)), np.nan)
    for j, e in enumerate(REY):
        s = deposit.shares.get(e)
        if s is not None:
            eps = rng.standard_t(_T_DOF, size=n) * t_scale
            log_share[:, j] = math.log(s.centre_pct / 100.0) + s.log_sd * eps + slope[:, j]
    remainder: dict[str, NDArray[np.float64]] = {}
    if not deposit.full_pattern:
        for key, s in deposit.remainders.items():
            eps = rng.standard_t(_T_DOF, size=n) * t_scale
            remainder[key] = math.log(s.centre_pct / 100.0) + s.log_sd * eps
        log_share, remainder = _closed(log_share, remainder)
    return log_share, remainder


def _analysed(
    true_ppm: NDArray[np.float64], dl: NDArray[np.float64], rng: np.random.Generator, noise: Noise
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Step 3: (reported ppm, censored mask) of the true ppm: relative and detection-limit noise, the lab
    bias, and 0.65 x DL (``BELOW_DL_FRACTION``) where a reading falls below its limit."""
    sd = np.sqrt((noise.rsd * true_ppm) ** 2 + (dl / 3.0) ** 2)
    measured = true_ppm + rng.normal(size=true_ppm.shape) * sd
    if noise.lab_bias_sd > 0:
        measured = measured * np.exp(rng.normal(0.0, noise.lab_bias_sd, size=true_ppm.shape))
    censored = np.isfinite(measured) & (measured < dl)
    return np.where(censored, BELOW_DL_FRACTION * dl, measured), censored


def _isotopes(
    deposit: Deposit, true_ppm: NDArray[np.float64], rng: np.random.Generator, noise: Noise
) -> NDArray[np.float64]:
    """Step 4: (present-day epsilon-Nd, 87Sr/86Sr) per sample where the deposit has sourced figures (NaN
    otherwise), each with measurement noise; epsilon-Nd follows the sample's own Sm/Nd."""
    n = true_ppm.shape[0]
    iso = np.full((n, 2), np.nan)
    eps_ref = deposit.isotope("eNd_initial")
    if eps_ref is not None and eps_ref.age_ma is not None and "Sm" in deposit.shares:
        sm_nd = true_ppm[:, REY.index("Sm")] / true_ppm[:, REY.index("Nd")]
        initial = rng.normal(eps_ref.mean, eps_ref.sd, size=n)
        iso[:, 0] = present_day_epsilon(initial, eps_ref.age_ma, sm_nd) + rng.normal(
            0.0, noise.eps_nd_sd, size=n
        )
    today = deposit.isotope("eNd")
    if today is not None and eps_ref is None:
        # on the deposit's isochron where the reference gives one (slope 0 otherwise)
        atoms = sm147_nd144(true_ppm[:, REY.index("Sm")] / true_ppm[:, REY.index("Nd")])
        centre = today.mean + today.slope * (atoms - today.at_atoms)
        iso[:, 0] = centre + rng.normal(0.0, today.sd, size=n) + rng.normal(0.0, noise.eps_nd_sd, size=n)
    sr_ref = deposit.isotope("87Sr/86Sr")
    if sr_ref is not None:
        iso[:, 1] = rng.normal(sr_ref.mean, sr_ref.sd, size=n) + rng.normal(0.0, noise.sr_sd, size=n)
    return iso


def _group_sums(
    deposit: Deposit,
    space: FeatureSpace,
    features: NDArray[np.float64],
    shares: tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]],
    rng: np.random.Generator,
    noise: Noise,
) -> None:
    """Fill in ``features`` each group figure the deposit publishes but its members cannot give (they are
    not all published): the group's true share (``shares``: log shares and remainders), measured with
    relative noise."""
    n = features.shape[0]
    for g in space.groups:
        if g in deposit.shares and np.all(np.isnan(features[:, space.key_index(g)])):
            share = _group_share(g, *shares)
            inside = share * np.exp(rng.normal(0.0, noise.rsd, size=n))
            outside = (1.0 - share) * np.exp(rng.normal(0.0, noise.rsd, size=n))
            features[:, space.key_index(g)] = np.log(inside / (inside + outside))


def _trace_ratios(
    deposit: Deposit, space: FeatureSpace, n: int, rng: np.random.Generator, noise: Noise
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(log ratio, its variance) of each of the space's trace ratios the deposit has a figure for (NaN
    otherwise): log-normal about the figure with its spread, plus the analytical noise and lab bias of both
    elements. No random number is drawn for a deposit without a figure, so its other draws stay those of a
    library without trace ratios."""
    refs = [deposit.trace_ratio(name) for name in space.ratios]
    if not any(refs):
        return None
    values = np.full((n, len(refs)), np.nan)
    for j, ref in enumerate(refs):
        if ref is not None:
            values[:, j] = ref.log_centre + ref.log_sd * rng.standard_normal(n)
            values[:, j] += math.sqrt(2.0) * math.hypot(noise.rsd, noise.lab_bias_sd) * rng.standard_normal(n)
    return values, np.zeros_like(values)


def _lab_total(
    ppm: NDArray[np.float64],
    log_share: NDArray[np.float64],
    grade: NDArray[np.float64],
    noise: Noise,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Total rare-earth oxide (ppm) a lab would sum for a sample whose reference leaves some REY out: the
    measured oxides of the published elements plus the rest of the composition, measured with the same
    relative noise, so measured shares stay shares of one whole."""
    published = np.nansum(ppm * OXIDE_PER_ELEMENT, axis=1)
    rest = np.clip(1.0 - np.nansum(np.exp(log_share), axis=1), 0.0, None) * grade * 1e6
    return np.asarray(published + rest * np.exp(rng.normal(0.0, noise.rsd, size=len(grade))))


def _closed(
    log_share: NDArray[np.float64], remainder: dict[str, NDArray[np.float64]]
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Log shares of the published elements and of the remainders, rescaled so that each sample's parts sum
    to the whole: the published shares of a sample are shares of one composition, as in a lab's assay."""
    total = np.nansum(np.exp(log_share), axis=1)
    for part in remainder.values():
        total = total + np.exp(part)
    log_total = np.log(total)
    return log_share - log_total[:, None], {k: v - log_total for k, v in remainder.items()}


def _group_share(
    group: str, log_share: NDArray[np.float64], remainder: dict[str, NDArray[np.float64]]
) -> NDArray[np.float64]:
    """True share of a group figure: its published members plus the remainders inside it (its own and those
    of smaller groups), so a group is never smaller than the members it contains."""
    members = set(group_members(group))
    share = np.nansum(np.exp(log_share[:, [REY.index(e) for e in REY if e in members]]), axis=1)
    for key, part in remainder.items():
        if key != REST and set(group_members(key)) <= members:
            share = share + np.exp(part)
    return np.asarray(share)


def simulate(
    deposits: tuple[Deposit, ...],
    space: FeatureSpace,
    n_per_deposit: int,
    seed: int,
    *,
    form: str = "ore",
    noise: Noise | None = None,
    isotopes: bool = False,
    ratios: bool = False,
) -> Draws:
    """Simulated assays of every deposit, labelled by position in ``deposits``."""
    rng = np.random.default_rng(seed)
    feats, ppms, cens, labels = [], [], [], []
    for k, d in enumerate(deposits):
        f, p, c = simulate_deposit(
            d, space, n_per_deposit, rng, form=form, noise=noise, isotopes=isotopes, ratios=ratios
        )
        feats.append(f)
        ppms.append(p)
        cens.append(c)
        labels.append(np.full(n_per_deposit, k, dtype=np.int64))
    return Draws(Observed.stack(feats), np.concatenate(labels), np.vstack(ppms), np.vstack(cens))
