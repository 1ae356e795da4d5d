"""Two-deposit mixtures: is the sample ore of one deposit blended with another's?

Shares of TREO mix linearly by TREO mass: a blend with fraction f (of its TREO) from deposit b has share
f c_b + (1 - f) c_a of each element, c the deposits' centre shares (exp of the model's log-share means). Each
pair of deposits that can vouch for a sample is tried on a grid of f (5% to 95%), on the single REY both
references give; the spread of the blend's log share is the contribution-weighted spread of its parts (the
delta method, with the parts taken as fully correlated: the wider, conservative choice). A censored value
counts only where the blend would exceed its bound. The blend's fit is a D2 scaled like its parts' and read as
a chi-square with one degree of freedom per compared element less one (f is fitted).

Epsilon-Nd, where the sample reports it and both deposits have a figure, mixes by mass balance of 143Nd and
144Nd: the blend's value is the mean of the parts' weighted by the Nd each brings (f c_b,Nd and
(1 - f) c_a,Nd), each part's value on its Sm-Nd isochron at its centre composition (``isochron``), with the
contribution-weighted spread; it adds one compared feature. The fraction is fitted on a grid of 1% steps
(2% to 98%), and its likelihood over the grid gives the reported range: the fractions whose D2 lies within
the chi-square(1) 95% point (3.84) of the best (a profile-likelihood interval).

A mixture is reported only where the chemistry allows it: the sample fits no single vouching deposit (it is
unknown, or fails the best one's fit test), and the best blend fits at ALPHA. Near-identical references make
many blends fit; the report then names the best and says the chemistry cannot tell more.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from raretrace.fingerprint import isochron
from raretrace.fingerprint.features import Observed
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.model import ALPHA, FingerprintModel, Scores

FRACTIONS: Final = np.linspace(0.02, 0.98, 97)
#: chi-square(1) 95% point: the fractions within it of the best D2 make the reported range
RANGE_D2: Final = 3.841458820694124
#: at least this many single REY compared for a blend to be judged
MIN_COMPARED: Final = 6


@dataclass(frozen=True)
class Mixtures:
    """Per sample: the best blend (deposit indices a and b, fraction of b), its p-value, and whether it is
    reported (the sample fits no single deposit and the blend fits)."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    fraction_b: NDArray[np.float64]
    p_value: NDArray[np.float64]
    reported: NDArray[np.bool_]
    fraction_low: NDArray[np.float64]  # the fractions of b within RANGE_D2 of the best fit
    fraction_high: NDArray[np.float64]


def _part_epsilon(model: FingerprintModel) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each deposit's epsilon-Nd at its centre composition and its spread: on its isochron where it has one,
    else its single Gaussian (NaN where the deposit has no epsilon-Nd figure)."""
    col = model.space.index["eNd"]
    lines = model.isochrons
    centre = model.mean[:, : len(REY)]
    atoms = isochron.sm_nd_atoms(centre, np.zeros(centre.shape, dtype=bool))
    eps = np.where(lines.active, lines.intercept + lines.slope * atoms, model.mean[:, col])
    sd = np.where(lines.active, lines.sd, model.sd[:, col])
    knows = model.known[:, col]
    return np.where(knows, eps, np.nan), np.where(knows, sd, np.nan)


def best_mixtures(model: FingerprintModel, data: Observed, scores: Scores) -> Mixtures:
    """The best two-deposit blend of each sample, over the pairs of deposits that can vouch."""
    n = len(data)
    s = len(REY)
    x, cens = data.x[:, :s], data.censored[:, :s]
    obs = ~np.isnan(x)
    vouching = np.flatnonzero(model.vouch)
    centre = np.exp(model.mean[:, :s])
    sd = model.sd[:, :s]
    sample_eps = data.x[:, model.space.index["eNd"]]
    part_eps, part_eps_sd = _part_epsilon(model)
    nd = REY.index("Nd")
    best_q = np.full(n, np.inf)
    best = np.zeros((n, 3))
    best_m = np.zeros(n)
    low, high = np.zeros(n), np.zeros(n)
    for a, b in combinations(vouching, 2):
        both = model.known[a, :s] & model.known[b, :s]
        if both.sum() < MIN_COMPARED:
            continue
        ca, cb = centre[a, both], centre[b, both]
        blend = FRACTIONS[:, None] * cb + (1 - FRACTIONS[:, None]) * ca  # F x e
        spread = (FRACTIONS[:, None] * cb * sd[b, both] + (1 - FRACTIONS[:, None]) * ca * sd[a, both]) / blend
        z = (x[:, None, both] - np.log(blend)[None]) / spread[None]  # n x F x e
        miss = np.where(cens[:, None, both], np.minimum(np.nan_to_num(z), 0.0), np.nan_to_num(z)) ** 2
        d2 = np.sum(np.where(obs[:, None, both], miss, 0.0), axis=2)
        m = obs[:, both].sum(axis=1).astype(float)
        if np.isfinite(part_eps[a]) and np.isfinite(part_eps[b]):
            wa, wb = (1 - FRACTIONS) * centre[a, nd], FRACTIONS * centre[b, nd]  # Nd each part brings
            eps = (wa * part_eps[a] + wb * part_eps[b]) / (wa + wb)  # F
            eps_sd = (wa * part_eps_sd[a] + wb * part_eps_sd[b]) / (wa + wb)
            has = np.isfinite(sample_eps)
            z_eps = (np.where(has, sample_eps, 0.0)[:, None] - eps[None]) / eps_sd[None]
            d2 = d2 + np.where(has[:, None], z_eps**2, 0.0)
            m = m + has
        d2 = d2 / (0.5 * (model.d2_mean[a] + model.d2_mean[b]))
        f = np.argmin(d2, axis=1)
        q = d2[np.arange(n), f]
        near = d2 <= q[:, None] + RANGE_D2
        better = q < best_q
        best_q = np.where(better, q, best_q)
        best[better] = np.column_stack([np.full(n, a), np.full(n, b), FRACTIONS[f]])[better]
        best_m = np.where(better, m, best_m)
        low = np.where(better, FRACTIONS[np.argmax(near, axis=1)], low)
        high = np.where(better, FRACTIONS[len(FRACTIONS) - 1 - np.argmax(near[:, ::-1], axis=1)], high)
    dof = np.maximum(best_m - 1, 1)
    p = np.where(np.isfinite(best_q), stats.chi2.sf(best_q, dof), 0.0)
    top = model.top(scores.probabilities)
    fit_fail, _ = model.declared_fails(scores.log_p, model.lr_against_others(scores.score))
    single_fails = scores.unknown | fit_fail[np.arange(n), top]
    reported = single_fails & (p >= ALPHA) & (best_m >= MIN_COMPARED)
    return Mixtures(
        best[:, 0].astype(np.int64), best[:, 1].astype(np.int64), best[:, 2], p, reported, low, high
    )


__all__ = ["FRACTIONS", "MIN_COMPARED", "RANGE_D2", "Mixtures", "best_mixtures"]
