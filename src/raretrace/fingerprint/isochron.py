"""The Sm-Nd isochron term: a deposit's present-day epsilon-Nd depends on each sample's own Sm/Nd.

Material of one deposit that formed with one initial 143Nd/144Nd at age t lies today on an isochron:
143Nd/144Nd(0) = 143Nd/144Nd(t) + 147Sm/144Nd x (exp(lambda t) - 1), so in epsilon units present-day
epsilon-Nd is linear in the sample's 147Sm/144Nd with a slope that grows with age (``isotopes`` has the
constants). One Gaussian per deposit for epsilon-Nd folds the Sm/Nd variation of its samples into its spread:
for an old deposit (Mount Weld, 2025 Ma) or one whose Sm/Nd varies a lot (xenotime) that spread is several
epsilon units and a look-alike of another age passes. Every assay with a REE pattern also gives the sample's
Sm/Nd, so the model scores epsilon-Nd *given* it: per deposit, a line fitted to its training draws (epsilon-Nd
on 147Sm/144Nd) and the spread of the draws about it. ``correction`` replaces the unconditional Gaussian term
of each measured epsilon-Nd by the conditional one, where the sample's Sm and Nd are both measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.fingerprint.features import OXIDE_PER_ELEMENT, FeatureSpace
from raretrace.fingerprint.isotopes import sm147_nd144
from raretrace.fingerprint.library import REY

#: Smallest spread kept about a deposit's line (epsilon units; about a TIMS/MC-ICP-MS 1-sigma).
MIN_SD: Final = 0.1
#: Fewest training draws with both epsilon-Nd and Sm/Nd for a line to be fitted.
MIN_POINTS: Final = 20
_SM, _ND = REY.index("Sm"), REY.index("Nd")


@dataclass(frozen=True)
class Isochrons:
    """Per deposit: the line epsilon-Nd = intercept + slope x 147Sm/144Nd, the spread about it, and
    whether the deposit has one (``active``)."""

    intercept: NDArray[np.float64]
    slope: NDArray[np.float64]
    sd: NDArray[np.float64]
    active: NDArray[np.bool_]

    @staticmethod
    def none(k: int) -> Isochrons:
        return Isochrons(np.zeros(k), np.zeros(k), np.ones(k), np.zeros(k, dtype=bool))


def sm_nd_atoms(x: NDArray[np.float64], censored: NDArray[np.bool_]) -> NDArray[np.float64]:
    """147Sm/144Nd of each sample from its log oxide shares of Sm and Nd (NaN where either is not
    measured)."""
    ok = ~censored[:, _SM] & ~censored[:, _ND]
    with np.errstate(invalid="ignore"):
        oxide_ratio = np.exp(x[:, _SM] - x[:, _ND])
    mass = oxide_ratio * OXIDE_PER_ELEMENT[_ND] / OXIDE_PER_ELEMENT[_SM]
    return np.where(ok, sm147_nd144(mass), np.nan)


def fit(
    eps: NDArray[np.float64], atoms: NDArray[np.float64], labels: NDArray[np.int64], knows: NDArray[np.bool_]
) -> Isochrons:
    """Least-squares line of epsilon-Nd on 147Sm/144Nd per deposit that has an epsilon-Nd figure (``knows``)
    over its training draws."""
    k = len(knows)
    out = Isochrons.none(k)
    for i in np.flatnonzero(knows):
        sel = (labels == i) & np.isfinite(eps) & np.isfinite(atoms)
        if sel.sum() < MIN_POINTS or np.var(atoms[sel]) <= 0:
            continue
        slope, intercept = np.polyfit(atoms[sel], eps[sel], 1)
        resid = eps[sel] - (intercept + slope * atoms[sel])
        out.intercept[i], out.slope[i] = float(intercept), float(slope)
        out.sd[i] = max(float(np.std(resid, ddof=2)), MIN_SD)
        out.active[i] = True
    return out


def correction(
    lines: Isochrons,
    space: FeatureSpace,
    x: NDArray[np.float64],
    censored: NDArray[np.bool_],
    mean: NDArray[np.float64],
    sd: NDArray[np.float64],
    own_var: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(change of each deposit's log likelihood, change of its squared z-score), n x K, from scoring each
    measured epsilon-Nd on the deposit's line instead of its single Gaussian (``mean``, ``sd``: the K
    unconditional centres and spreads; ``own_var``: each sample's own variance of its epsilon-Nd, added to
    both, as the scoring it corrects added it); zero where the deposit has no line or the sample lacks
    Sm/Nd."""
    j = space.index["eNd"]
    eps = x[:, j]
    atoms = sm_nd_atoms(x, censored)
    use = np.isfinite(eps) & np.isfinite(atoms)
    n, k = len(eps), len(mean)
    if not use.any() or not lines.active.any():
        return np.zeros((n, k)), np.zeros((n, k))
    e = np.where(use, eps, 0.0)[:, None]
    v = np.zeros((n, 1)) if own_var is None else np.nan_to_num(own_var)[:, None]
    sd_u = np.sqrt(sd[None, :] ** 2 + v)
    sd_c = np.sqrt(lines.sd[None, :] ** 2 + v)
    z_u = (e - mean[None, :]) / sd_u
    centre = lines.intercept[None, :] + lines.slope[None, :] * np.where(use, atoms, 0.0)[:, None]
    z_c = (e - centre) / sd_c
    on = use[:, None] & lines.active[None, :]
    d_term = (-0.5 * z_c**2 - np.log(sd_c)) - (-0.5 * z_u**2 - np.log(sd_u))
    return np.where(on, d_term, 0.0), np.where(on, z_c**2 - z_u**2, 0.0)


__all__ = ["MIN_POINTS", "MIN_SD", "Isochrons", "correction", "fit", "sm_nd_atoms"]
