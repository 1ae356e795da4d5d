"""Two-deposit mixtures: is the sample ore of one deposit blended with another's?

Shares of TREO mix linearly by TREO mass: a blend with fraction f (of its TREO) from deposit b has share
f c_b + (1 - f) c_a of each element, c the deposits' centre shares (exp of the model's log-share means). Each
pair of deposits that can vouch for a sample is tried on a grid of f (5% to 95%), on the single REY both
references give; the spread of the blend's log share is the contribution-weighted spread of its parts (the
delta method, with the parts taken as fully correlated: the wider, conservative choice). A censored value
counts only where the blend would exceed its bound. The blend's fit is a D2 scaled like its parts' and read as
a chi-square with one degree of freedom per compared element less one (f is fitted).

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

from raretrace.fingerprint.features import Observed
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.model import ALPHA, FingerprintModel, Scores

FRACTIONS: Final = np.linspace(0.05, 0.95, 19)
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


def best_mixtures(model: FingerprintModel, data: Observed, scores: Scores) -> Mixtures:
    """The best two-deposit blend of each sample, over the pairs of deposits that can vouch."""
    n = len(data)
    s = len(REY)
    x, cens = data.x[:, :s], data.censored[:, :s]
    obs = ~np.isnan(x)
    vouching = np.flatnonzero(model.vouch)
    centre = np.exp(model.mean[:, :s])
    sd = model.sd[:, :s]
    best_q = np.full(n, np.inf)
    best = np.zeros((n, 3))
    best_m = np.zeros(n)
    for a, b in combinations(vouching, 2):
        both = model.known[a, :s] & model.known[b, :s]
        if both.sum() < MIN_COMPARED:
            continue
        ca, cb = centre[a, both], centre[b, both]
        blend = FRACTIONS[:, None] * cb + (1 - FRACTIONS[:, None]) * ca  # F x e
        spread = (FRACTIONS[:, None] * cb * sd[b, both] + (1 - FRACTIONS[:, None]) * ca * sd[a, both]) / blend
        z = (x[:, None, both] - np.log(blend)[None]) / spread[None]  # n x F x e
        miss = np.where(cens[:, None, both], np.minimum(np.nan_to_num(z), 0.0), np.nan_to_num(z)) ** 2
        d2 = np.sum(np.where(obs[:, None, both], miss, 0.0), axis=2) / (
            0.5 * (model.d2_mean[a] + model.d2_mean[b])
        )
        f = np.argmin(d2, axis=1)
        q = d2[np.arange(n), f]
        better = q < best_q
        best_q = np.where(better, q, best_q)
        best[better] = np.column_stack([np.full(n, a), np.full(n, b), FRACTIONS[f]])[better]
        best_m = np.where(better, obs[:, both].sum(axis=1), best_m)
    dof = np.maximum(best_m - 1, 1)
    p = np.where(np.isfinite(best_q), stats.chi2.sf(best_q, dof), 0.0)
    top = model.top(scores.probabilities)
    fit_fail, _ = model.declared_fails(scores.log_p, model.lr_against_others(scores.score))
    single_fails = scores.unknown | fit_fail[np.arange(n), top]
    reported = single_fails & (p >= ALPHA) & (best_m >= MIN_COMPARED)
    return Mixtures(best[:, 0].astype(np.int64), best[:, 1].astype(np.int64), best[:, 2], p, reported)


__all__ = ["FRACTIONS", "MIN_COMPARED", "Mixtures", "best_mixtures"]
