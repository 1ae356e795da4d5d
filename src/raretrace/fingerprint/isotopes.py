"""Nd isotope arithmetic: what a deposit's Nd looks like today, and epsilon notation.

A separated oxide, metal or magnet keeps the 143Nd/144Nd of its ore (the ratio is internally normalized, so
solvent extraction, reduction and sintering do not change it; only blending does). Sources give the ore's
*initial* epsilon-Nd at its age t; what a lab measures on a product today is the *present-day* ratio, which
kept growing with the ore's own Sm/Nd since t. This module does that single-stage calculation with the
standard constants below; nothing else is assumed.

Constants:
* 147Sm decay constant 6.54e-12 per year (Lugmair & Marti 1978, EPSL 39:349).
* CHUR today: 143Nd/144Nd = 0.512630, 147Sm/144Nd = 0.1960 (Bouvier, Vervoort & Patchett 2008,
  EPSL 273:48-57).
* Isotope amount fractions 147Sm 0.1499 and 144Nd 0.23798 (IUPAC representative isotopic compositions),
  with the atomic weights of ``raretrace.elements``.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.elements import Element

LAMBDA_147SM: Final = 6.54e-12  # per year
CHUR_143_144: Final = 0.512630
CHUR_147_144: Final = 0.1960
_X147SM: Final = 0.1499
_X144ND: Final = 0.23798


def sm147_nd144(sm_over_nd_mass: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """147Sm/144Nd atom ratio from the Sm/Nd mass ratio."""
    nd_w, sm_w = Element.Nd.atomic_weight, Element.Sm.atomic_weight
    assert nd_w is not None
    assert sm_w is not None
    return np.asarray(sm_over_nd_mass, dtype=float) * (nd_w / sm_w) * (_X147SM / _X144ND)


def epsilon_nd(ratio_143_144: float) -> float:
    """Present-day epsilon-Nd of a measured 143Nd/144Nd."""
    return (ratio_143_144 / CHUR_143_144 - 1.0) * 1e4


def present_day_epsilon(
    initial_epsilon: NDArray[np.float64] | float, age_ma: float, sm_over_nd_mass: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Present-day epsilon-Nd(0) of material with ``initial_epsilon`` at ``age_ma`` that has kept the
    Sm/Nd mass ratio ``sm_over_nd_mass`` since then (single-stage evolution)."""
    growth = math.expm1(LAMBDA_147SM * age_ma * 1e6)
    chur_t = CHUR_143_144 - CHUR_147_144 * growth
    sample_t = chur_t * (1.0 + np.asarray(initial_epsilon, dtype=float) / 1e4)
    today = sample_t + sm147_nd144(sm_over_nd_mass) * growth
    return np.asarray((today / CHUR_143_144 - 1.0) * 1e4, dtype=float)
