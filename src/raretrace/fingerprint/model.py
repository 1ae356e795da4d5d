"""The classifier: per-deposit Gaussians scored against a background, calibrated, with open-set rejection.

For deposit k and each feature f the library gives a figure for, the model holds a Gaussian fitted to
simulated training draws of k (so analytical noise and censoring are in its spread). A sample's score for k is

    score_k(x) = sum over f known to k and observed in x of [log N(x_f; mu_kf, sd_kf) - log B_f(x_f)]

where B_f is a background density (the pooled spread of all deposits; for isotopes a broad fixed range).
A feature a deposit has no figure for contributes nothing, i.e. it is as likely as for "any deposit": the
model never pretends to know what a source did not say. Treating features as independent overcounts correlated
evidence, so probabilities are softmax(score / T) with one temperature T fitted by log-loss on a separate set
of calibration draws (temperature scaling; Guo et al. 2017).

Open set: D2_k = sum of squared z-scores over the same features, for the deposits whose reference is
complete enough to vouch for a sample (``Deposit.complete_pattern``): a reference of two or three figures
fits far too much to say that a sample belongs to the library. Its calibration-draw mean and variance per
feature give a scaled chi-square (Satterthwaite) for any number m of observed features; p_k is its survival
function. A sample whose best p_k is below ``ALPHA`` matches no deposit in the library: by construction about
``ALPHA`` of a known deposit's samples are wrongly rejected (the evaluation measures the real rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from raretrace.fingerprint.features import FeatureSpace
from raretrace.fingerprint.library import REY, Deposit, Library, group_members, load_library
from raretrace.fingerprint.simulate import Draws, simulate

#: Nominal false-rejection rate of the open-set test and of the declared-origin test.
ALPHA: Final = 0.01
SEED: Final = 20261129
N_TRAIN: Final = 400
N_CALIBRATE: Final = 400
_MIN_SD: Final = 0.02
#: Background for isotopes: a broad range of continental and mantle-derived materials (an assumption, used
#: only as the "any deposit" alternative): epsilon-Nd(0) mean -12, sd 12; 87Sr/86Sr mean 0.712, sd 0.010.
ISOTOPE_BACKGROUND: Final = {"eNd": (-12.0, 12.0), "87Sr/86Sr": (0.712, 0.010)}


@dataclass(frozen=True)
class Scores:
    probabilities: NDArray[np.float64]  # n x K, calibrated
    log_p: NDArray[np.float64]  # n x K, log p-value of each deposit's D2 (nan where nothing comparable)
    observed: NDArray[np.int64]  # n x K, features compared per deposit
    vouch: NDArray[np.bool_]  # K, deposits whose reference is complete enough to accept a sample

    @property
    def best_log_p(self) -> NDArray[np.float64]:
        """Best log p-value among the deposits that can vouch for a sample (the open-set statistic)."""
        usable = ~np.isnan(self.log_p) & self.vouch
        return np.asarray(np.max(np.where(usable, self.log_p, -np.inf), axis=1))

    @property
    def unknown(self) -> NDArray[np.bool_]:
        return np.asarray(self.best_log_p < math.log(ALPHA))


def known_mask(deposit: Deposit, space: FeatureSpace) -> NDArray[np.bool_]:
    """Features deposit has a sourced figure for; a group only where its members are not all known."""
    mask = np.zeros(len(space), dtype=bool)
    for key in deposit.shares:
        if "+" in key and all(m in deposit.shares for m in group_members(key)):
            continue
        mask[space.key_index(key)] = True
    eps = deposit.isotope("eNd_initial")
    if eps is not None and "Sm" in deposit.shares and "Nd" in deposit.shares:
        mask[space.index["eNd"]] = True
    if deposit.isotope("87Sr/86Sr") is not None:
        mask[space.index["87Sr/86Sr"]] = True
    return mask


class FingerprintModel:
    def __init__(self, deposits: tuple[Deposit, ...], space: FeatureSpace, train: Draws) -> None:
        self.deposits = deposits
        self.space = space
        k, f = len(deposits), len(space)
        self.known = np.array([known_mask(d, space) for d in deposits])
        self.vouch = np.array([d.complete_pattern for d in deposits])
        # group sums a deposit knows through all its members: used only for samples lacking the members
        self.derived = np.zeros((k, f), dtype=bool)
        self._members = [[REY.index(e) for e in group_members(g)] for g in space.groups]
        self.mean = np.zeros((k, f))
        self.sd = np.ones((k, f))
        fitted = np.zeros((k, f), dtype=bool)
        for i in range(k):
            x = train.features[train.labels == i]
            for j, g in enumerate(space.groups):
                col = space.key_index(g)
                self.derived[i, col] = not self.known[i, col] and bool(self.known[i, self._members[j]].all())
            cols = self.known[i] | self.derived[i]
            self.mean[i, cols] = np.nanmean(x[:, cols], axis=0)
            self.sd[i, cols] = np.maximum(np.nanstd(x[:, cols], axis=0), _MIN_SD)
            fitted[i] = cols
        self.bg_mean = np.zeros(f)
        self.bg_sd = np.ones(f)
        for j, name in enumerate(space.names):
            if name in ISOTOPE_BACKGROUND:
                self.bg_mean[j], self.bg_sd[j] = ISOTOPE_BACKGROUND[name]
            elif fitted[:, j].any():
                # equal weight per deposit: mixture mean and variance of every deposit with a figure for f
                m, s = self.mean[fitted[:, j], j], self.sd[fitted[:, j], j]
                self.bg_mean[j] = m.mean()
                self.bg_sd[j] = math.sqrt(float(np.mean(s**2 + (m - m.mean()) ** 2)))
        self.temperature = 1.0
        self.d2_mean = np.ones(k)  # per compared feature
        self.d2_var = np.full(k, 2.0)
        self._set_thresholds()

    # --- scoring ------------------------------------------------------------------------------------------

    def _raw(
        self, x: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        x = np.atleast_2d(x)
        obs = ~np.isnan(x)
        xz = np.where(obs, x, 0.0)
        zb = (xz - self.bg_mean) / self.bg_sd
        log_bg = -0.5 * zb**2 - np.log(self.bg_sd)
        n, k = x.shape[0], len(self.deposits)
        score, d2, m = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k), dtype=np.int64)
        members_obs = np.zeros_like(obs)
        for j, g in enumerate(self.space.groups):
            members_obs[:, self.space.key_index(g)] = obs[:, self._members[j]].all(axis=1)
        for i in range(k):
            use = obs & (self.known[i] | (self.derived[i] & ~members_obs))
            z = (xz - self.mean[i]) / self.sd[i]
            contrib = np.where(use, -0.5 * z**2 - np.log(self.sd[i]) - log_bg, 0.0)
            score[:, i] = contrib.sum(axis=1)
            d2[:, i] = np.where(use, z**2, 0.0).sum(axis=1)
            m[:, i] = use.sum(axis=1)
        return score, d2, m

    def _log_p(self, d2: NDArray[np.float64], m: NDArray[np.int64]) -> NDArray[np.float64]:
        mu, var = self.d2_mean * m, self.d2_var * m
        with np.errstate(all="ignore"):
            scale = var / (2 * mu)
            dof = 2 * mu**2 / var
            out = np.asarray(stats.chi2.logsf(d2 / scale, dof), dtype=float)
        return np.where(m > 0, out, np.nan)

    def scores(self, x: NDArray[np.float64], among: NDArray[np.bool_] | None = None) -> Scores:
        """Calibrated probabilities over the deposits (``among``: a mask to restrict to) and p-values."""
        score, d2, m = self._raw(x)
        logits = score / self.temperature
        if among is not None:
            logits = np.where(among, logits, -np.inf)
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        return Scores(prob, self._log_p(d2, m), m, self.vouch)

    def classify(
        self, x: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        """Fast path for many samples: (top deposit index, its probability, open-set rejection)."""
        score, d2, m = self._raw(x)
        logits = score / self.temperature
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        top = np.argmax(prob, axis=1)
        p_top = prob[np.arange(len(top)), top] / prob.sum(axis=1)
        thresholds = self._thresholds[np.arange(len(self.deposits)), m]
        unknown = ~np.any((m > 0) & (d2 <= thresholds) & self.vouch, axis=1)
        return top, p_top, unknown

    # --- calibration --------------------------------------------------------------------------------------

    def calibrate(self, draws: Draws) -> None:
        score, d2, m = self._raw(draws.features)
        rows = np.arange(len(draws.labels))

        def nll(t: float) -> float:
            logits = score / t
            logits = logits - logits.max(axis=1, keepdims=True)
            logz = np.log(np.exp(logits).sum(axis=1))
            return float(np.mean(logz - logits[rows, draws.labels]))

        self.temperature = float(optimize.minimize_scalar(nll, bounds=(0.05, 50.0), method="bounded").x)
        for i in range(len(self.deposits)):
            own = draws.labels == i
            per = d2[own, i] / np.maximum(m[own, i], 1)
            self.d2_mean[i] = float(per.mean())
            self.d2_var[i] = float(max(np.var(d2[own, i]) / max(float(m[own, i].mean()), 1.0), 1e-6))
        self._set_thresholds()

    def _set_thresholds(self) -> None:
        """D2 above which a deposit's p-value falls below ALPHA, for every number of compared features."""
        counts = np.arange(len(self.space) + 1)[None, :]
        mu, var = self.d2_mean[:, None] * counts, self.d2_var[:, None] * counts
        with np.errstate(all="ignore"):
            self._thresholds = np.asarray(stats.chi2.isf(ALPHA, 2 * mu**2 / var) * var / (2 * mu))
        self._thresholds[:, 0] = -np.inf


def build_model(library: Library, seed: int = SEED) -> FingerprintModel:
    """Fit on simulated training draws and calibrate on separate draws (fixed seeds: deterministic)."""
    groups = {key for d in library.deposits for key in d.shares if "+" in key}
    space = FeatureSpace(groups)
    deposits = library.deposits

    def draws(n: int, s: int) -> Draws:
        parts = [
            simulate(deposits, space, n // 4, s + i, form=form, isotopes=iso)
            for i, (form, iso) in enumerate(
                [("ore", False), ("concentrate", False), ("ore", True), ("concentrate", True)]
            )
        ]
        return Draws(
            np.vstack([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.vstack([p.ppm for p in parts]),
            np.vstack([p.censored for p in parts]),
        )

    model = FingerprintModel(deposits, space, draws(N_TRAIN, seed))
    model.calibrate(draws(N_CALIBRATE, seed + 1000))
    return model


@cache
def default_model() -> FingerprintModel:
    """The model of the shipped library, built once per process."""
    return build_model(load_library())


__all__ = ["ALPHA", "REY", "FingerprintModel", "Scores", "build_model", "default_model"]
