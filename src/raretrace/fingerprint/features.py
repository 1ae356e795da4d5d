"""Features of an assay: what the model compares, and what a person reads.

Model features (numpy, vectorized, fast):
* ``ln(X/TREO)``: the log share of each REY in the total rare-earth oxide, on the oxide basis the reference
  sources use. Sums of shares (``ln(Pr+Nd/TREO)``) stand in where a source gives only a sum.
  Shares are closed, so these are log-ratio coordinates (the CLR plus one common offset); unlike a
  CLR/ILR they stay defined for a reference that gives only some elements, which most sources do.
* ``eNd``: present-day epsilon-Nd (CHUR 0.512630); ``87Sr/86Sr``.
* ``ln(Th/U)``, ``ln(Nb/Ta)``: log mass ratios of trace elements outside the REE (``trace_ratios``), as
  columns only of a space built for a library that has a figure for them.

Descriptors (pyrolite, one sample at a time, for the explanation): chondrite-normalized REE with the named
reference ``ChondriteREE_ON`` (O'Neill 2016), the O'Neill (2016) lambda shape coefficients λ0-λ3, Ce/Ce* and
Eu/Eu* from the same fit, (La/Yb)N, Y/Ho, and the CLR and ILR of the REY composition.

Values below detection are not replaced by a number: ``FeatureSpace.observe`` keeps them as censored
features ("somewhere below this share"), with the log of the limit's share of TREO as the bound, and the
model scores them with the normal CDF (a censored Gaussian likelihood, as in Tobit regression). Reported
uncertainties (and the rounding of the reported digits) become a per-sample variance on the log scale (the
delta method: var(ln x) = (u/x)^2). ``BELOW_DL_FRACTION`` remains only for the pyrolite descriptors, which
need a number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from raretrace.elements import oxide_factor
from raretrace.fingerprint.library import REY, group_members
from raretrace.fingerprint.trace_ratios import TRACE_RATIOS, ratio_feature

CHONDRITE: Final = "ChondriteREE_ON"
CHONDRITE_NAME: Final = "ChondriteREE_ON (O'Neill 2016, Phil. Trans. R. Soc. A 374:20150239)"
#: Fraction of the detection limit that stands in for a value below it (Palarea-Albaladejo et al. 2007).
BELOW_DL_FRACTION: Final = 0.65
ISOTOPE_FEATURES: Final[tuple[str, ...]] = ("eNd", "87Sr/86Sr")
#: A value counts as precise (``Observed.precise_count``) up to this relative 1-sigma: a REY value rounded
#: to one digit of 0.001 wt% (oxide wt% to three decimals at 0.003 wt%) is not.
PRECISE_RSD: Final = 0.10
#: Oxide mass per unit element mass, in REY order.
OXIDE_PER_ELEMENT: Final = np.array([1.0 / oxide_factor(e) for e in REY])


@dataclass(frozen=True)
class Observed:
    """A batch of assays as the likelihood reads them (n samples x f features).

    ``x`` holds the log share, or for a censored entry the log of its upper bound; NaN = not reported.
    ``censored`` marks the entries that are only known to lie below ``x``. ``var`` is the extra variance
    (log scale) of each entry from its reported uncertainty and rounding; None when nothing was given."""

    x: NDArray[np.float64]
    censored: NDArray[np.bool_]
    var: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def precise_count(self) -> NDArray[np.int64]:
        """Per sample: single REY measured (not censored) to a relative 1-sigma of at most
        ``PRECISE_RSD`` (reported uncertainty and rounding together)."""
        singles = len(REY)
        measured = ~self.censored[:, :singles] & ~np.isnan(self.x[:, :singles])
        if self.var is not None:
            measured &= self.var[:, :singles] <= PRECISE_RSD**2
        return np.asarray(measured.sum(axis=1), dtype=np.int64)

    def rows(self, sel: NDArray[np.bool_] | NDArray[np.intp] | slice) -> Observed:
        return Observed(self.x[sel], self.censored[sel], None if self.var is None else self.var[sel])

    @staticmethod
    def of(x: NDArray[np.float64] | Observed) -> Observed:
        """An ``Observed`` as is; a plain feature matrix as fully measured values."""
        if isinstance(x, Observed):
            return x
        arr = np.atleast_2d(np.asarray(x, dtype=float))
        return Observed(arr, np.zeros(arr.shape, dtype=bool))

    @staticmethod
    def stack(parts: Sequence[Observed]) -> Observed:
        var = None
        if any(p.var is not None for p in parts):
            var = np.vstack([np.zeros_like(p.x) if p.var is None else p.var for p in parts])
        return Observed(np.vstack([p.x for p in parts]), np.vstack([p.censored for p in parts]), var)


def share_feature(key: str) -> str:
    return f"ln({key}/TREO)"


class FeatureSpace:
    """A fixed list of feature names: every single REY share, the given group sums, the isotopes, then the
    given trace ratios (``trace_ratios.TRACE_RATIOS``; none unless a library has a figure for them)."""

    def __init__(self, groups: Iterable[str], ratios: Iterable[str] = ()) -> None:
        self.groups: tuple[str, ...] = tuple(sorted(set(groups)))
        wanted = set(ratios)
        self.ratios: tuple[str, ...] = tuple(r for r in TRACE_RATIOS if r in wanted)
        self.names: tuple[str, ...] = (
            tuple(share_feature(e) for e in REY)
            + tuple(share_feature(g) for g in self.groups)
            + ISOTOPE_FEATURES
            + tuple(ratio_feature(r) for r in self.ratios)
        )
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.names)}
        self._group_idx = [[REY.index(m) for m in group_members(g)] for g in self.groups]
        start = len(REY) + len(self.groups)
        self._isotope_cols = slice(start, start + len(ISOTOPE_FEATURES))
        self._ratio_cols = slice(self._isotope_cols.stop, len(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def bias_weights(self) -> NDArray[np.float64]:
        """Per feature, how many element calibrations it depends on (the inter-lab bias variance it carries):
        one for a share, two for a ratio of two elements, none for an isotope ratio (internally
        normalized)."""
        weights = np.ones(len(self))
        weights[self._isotope_cols] = 0.0
        weights[self._ratio_cols] = 2.0
        return weights

    def key_index(self, key: str) -> int:
        """Column of a library share key ("Nd", "Pr+Nd"), isotope feature ("eNd") or trace ratio ("Th/U")."""
        if key in ISOTOPE_FEATURES:
            return self.index[key]
        return self.index[ratio_feature(key) if key in TRACE_RATIOS else share_feature(key)]

    def from_ppm(
        self,
        ppm: NDArray[np.float64],
        isotopes: NDArray[np.float64] | None = None,
        total_oxide_ppm: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Feature matrix of fully measured assays (element ppm in REY order, n x 15, NaN = not
        reported): ``observe`` without censoring or uncertainties."""
        return self.observe(ppm, isotopes=isotopes, total_oxide_ppm=total_oxide_ppm).x

    def observe(
        self,
        ppm: NDArray[np.float64],
        *,
        censored: NDArray[np.bool_] | None = None,
        limits: NDArray[np.float64] | None = None,
        sd_ppm: NDArray[np.float64] | None = None,
        isotopes: NDArray[np.float64] | None = None,
        ratios: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
        total_oxide_ppm: NDArray[np.float64] | None = None,
    ) -> Observed:
        """Features of assays: element ppm in REY order (n x 15, NaN = not reported); ``censored`` marks
        elements reported below their detection limit ``limits`` (ppm, per sample and element; the
        ``ppm`` value there is ignored); ``sd_ppm`` the 1-sigma uncertainty of each value (NaN or 0 =
        none given); ``ratios`` the (log value, variance) of this space's trace ratios (n x its ratios; NaN =
        not reported).

        Shares are of TREO: the sum of the measured oxides (censored ones count as zero: with coarse
        limits, half the limit of many censored elements would inflate TREO far more than their true,
        usually tiny, amounts), or ``total_oxide_ppm`` when given (simulated partial patterns); a row
        missing any REY without a given total gets NaN shares. A censored element's feature is the log of
        its limit's share, marked censored (a bound that can only be loose: TREO is at least the measured
        sum). A group sum is censored only when all its members are; else it is the sum of its measured
        members."""
        ppm = np.atleast_2d(np.asarray(ppm, dtype=float))
        cens = np.zeros(ppm.shape, dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
        out, out_cens = self._shares(ppm, cens, limits, total_oxide_ppm)
        var = None if sd_ppm is None else self._share_variances(ppm, cens, sd_ppm)
        if isotopes is not None:
            out[:, self._isotope_cols] = isotopes
        if ratios is not None and self.ratios:
            out[:, self._ratio_cols] = ratios[0]
            if ratios[1].any():
                var = np.zeros((ppm.shape[0], len(self))) if var is None else var
                var[:, self._ratio_cols] = np.nan_to_num(ratios[1])
        out_cens &= ~np.isnan(out)
        return Observed(out, out_cens, var)

    def _shares(
        self,
        ppm: NDArray[np.float64],
        cens: NDArray[np.bool_],
        limits: NDArray[np.float64] | None,
        total_oxide_ppm: NDArray[np.float64] | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """(features, censored mask) with the log shares of TREO of the single REY and the group sums filled
        in (as ``observe`` says); the other columns NaN."""
        n = ppm.shape[0]
        bound = ppm if limits is None else np.where(cens, np.asarray(limits, dtype=float), ppm)
        oxide = np.where(cens, bound, ppm) * OXIDE_PER_ELEMENT
        mid = np.where(cens, 0.0, oxide)
        total = np.sum(mid, axis=1) if total_oxide_ppm is None else np.asarray(total_oxide_ppm)
        out = np.full((n, len(self)), np.nan)
        out_cens = np.zeros((n, len(self)), dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, : len(REY)] = np.log(oxide / total[:, None])
            out_cens[:, : len(REY)] = cens
            mid_share = mid / total[:, None]
            for j, idx in enumerate(self._group_idx):
                all_cens = cens[:, idx].all(axis=1)
                full = np.sum(oxide[:, idx], axis=1) / total
                out[:, len(REY) + j] = np.log(np.where(all_cens, full, np.sum(mid_share[:, idx], axis=1)))
                out_cens[:, len(REY) + j] = all_cens
        out[~np.isfinite(out)] = np.nan
        return out, out_cens

    def _share_variances(
        self, ppm: NDArray[np.float64], cens: NDArray[np.bool_], sd_ppm: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Each share feature's own variance from the values' 1-sigma (relative variance of a value, of a
        group's measured sum); zero for censored values and for the columns after the shares."""
        sd = np.where(cens, 0.0, np.nan_to_num(np.asarray(sd_ppm, dtype=float)))
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.zeros((ppm.shape[0], len(self)))
            var[:, : len(REY)] = np.nan_to_num((sd / ppm) ** 2)
            for j, idx in enumerate(self._group_idx):
                s2 = np.sum(sd[:, idx] ** 2, axis=1)
                var[:, len(REY) + j] = np.nan_to_num(s2 / np.sum(np.where(cens, 0, ppm)[:, idx], axis=1) ** 2)
        return var


def pattern_vector(ppm: Mapping[str, float]) -> NDArray[np.float64]:
    """Element ppm in REY order, NaN where not reported."""
    return np.array([ppm.get(e, math.nan) for e in REY], dtype=float)


def describe(ppm: Mapping[str, float]) -> dict[str, Any]:
    """Pyrolite descriptors of one complete REY pattern (element ppm, censored values imputed)."""
    return describe_many([ppm])[0]


def describe_many(patterns: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
    """Pyrolite descriptors of many complete REY patterns at once (the lambda fit has a fixed cost per
    call, so a batch is far faster than one call per sample)."""
    if not patterns:
        return []
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyrolite.geochem  # noqa: F401  (registers the .pyrochem accessor)
        from pyrolite.comp import codata

        ree = [e for e in REY if e != "Y"]
        df = pd.DataFrame([[p[e] for e in ree] for p in patterns], columns=ree)
        normalized = df.pyrochem.normalize_to(CHONDRITE, units="ppm")
        lambdas = df.pyrochem.lambda_lnREE(norm_to=CHONDRITE, anomalies=["Ce", "Eu"])
        rey = np.array([[p[e] for e in REY] for p in patterns])
        clr, ilr = codata.CLR(rey), codata.ILR(rey)
    out = []
    for i, p in enumerate(patterns):
        norm, lam = normalized.iloc[i], lambdas.iloc[i]
        out.append(
            {
                "chondrite": CHONDRITE_NAME,
                "chondrite_normalized": {e: float(norm[e]) for e in ree},
                "lambdas": {name: float(lam[name]) for name in ("λ0", "λ1", "λ2", "λ3")},
                "Ce/Ce*": float(lam["Ce/Ce*"]),
                "Eu/Eu*": float(lam["Eu/Eu*"]),
                "(La/Yb)N": float(norm["La"] / norm["Yb"]),
                "Y/Ho": float(p["Y"] / p["Ho"]),
                "clr": {e: float(v) for e, v in zip(REY, clr[i], strict=True)},
                "ilr": [float(v) for v in ilr[i]],
            }
        )
    return out
