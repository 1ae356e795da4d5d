"""The classifier: per-deposit Gaussians scored against a background, calibrated, with open-set rejection.

For deposit k and each feature f the library gives a figure for, the model holds a Gaussian fitted to
simulated training draws of k (so analytical noise and censoring are in its spread). A sample's score for k is

    score_k(x) = sum over f fixed by k and observed in x of [log N(x_f; mu_kf, sd_kf) - log B_f(x_f)]

where B_f is a background density (the pooled spread of all deposits; for isotopes and the trace ratios Th/U
and Nb/Ta a broad fixed range).
A feature a deposit has no figure for contributes nothing, i.e. it is marginalised: as likely as for "any
deposit". The model never pretends to know what a source did not say. "Fixed by k" includes the group sums
of the feature space (e.g. La+Ce+Pr+Nd, which a partial reference gives instead of its members) that k's
reference fixes through the members it gives: otherwise a reference giving only a tight sum would collect
that sum's evidence while the references giving its members would not, and a sparse reference would take
samples from fuller ones. Treating features as independent overcounts correlated evidence, so
probabilities are softmax(score / T) with one temperature T fitted by log-loss on a separate set of
calibration draws (temperature scaling; Guo et al. 2017).

Open set ("matches no deposit in the library"): two statistics, each over the deposits whose reference is
complete enough to vouch for a sample (``Deposit.complete_pattern``; a reference of two or three figures fits
far too much to say that a sample belongs to the library):

The open-set statistics and the per-deposit p-values count each figure once: a group sum is left out where the
sample's members of it are compared already (it adds nothing, and counting it would inflate the evidence).

* fit: D2_k = sum of squared z-scores over the compared features. Its calibration-draw mean and variance per
  feature give a scaled chi-square (Satterthwaite) for any number m of compared features; p_k is its survival
  function (the per-deposit p-value the declared-origin test uses), and z_k its Wilson-Hilferty normal score.
  The fit statistic is the best (smallest) z_k: "is the sample inside some deposit's spread?".
* evidence: the best log likelihood ratio score_k against the background: "does some deposit explain the
  sample better than rare-earth material in general?". A broad reference (an approximate or low-confidence
  row) covers a lot but explains little, so a sample that only falls inside its wide spread is not vouched
  for; a tight reference that fits does.

Neither alone is enough (the fit test accepts a light-REE sample inside a broad light-REE reference; the
likelihood ratio accepts a heavy-REE sample far from the background even where it misfits), so the novelty
score is the larger of the two after each is scaled by its median and 99th percentile on held-apart
calibration draws of the known deposits, and a sample is unknown when its novelty exceeds the (1 - ALPHA)
quantile of the same draws: by construction about ALPHA of a known deposit's samples are wrongly rejected
(the evaluation measures the real rate on fresh draws).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

from raretrace.fingerprint import isochron
from raretrace.fingerprint.features import FeatureSpace, Observed
from raretrace.fingerprint.library import REY, Deposit, Library, group_members, load_library
from raretrace.fingerprint.simulate import Draws, Noise, simulate
from raretrace.fingerprint.trace_ratios import TRACE_BACKGROUND, ratio_feature

#: Nominal false-rejection rate of the open-set test and of the declared-origin test.
ALPHA: Final = 0.01
SEED: Final = 20261129
N_TRAIN: Final = 400
N_CALIBRATE: Final = 1200
_MIN_SD: Final = 0.02
#: Inter-laboratory bias, a nuisance term: each lab's calibration of each element is off by a log-normal
#: factor with this log-sd (an assumption for the literature library, typical of inter-laboratory
#: comparisons of REE by ICP-MS, 3-8%; a library built from samples measures its own). Marginalised
#: analytically: it adds its variance to every share feature of every deposit.
LAB_BIAS_SD: Final = 0.05
#: A sample's own variance (log scale) of an entry below this share of the smallest deposit variance of its
#: feature is left out (``FingerprintModel.own_variance``): it widens no spread by more than 0.5%, so a term
#: changes by at most 0.5 z^2 / 100 (0.13 at z = 5), while 3-significant-figure rounding keeps every row on
#: the fast matrix path.
VAR_NEGLIGIBLE: Final = 0.01
#: Coarse detection limits (element ppm) of the calibration draws besides the trace ICP-MS default: an
#: ore-grade method and a coarse oxide report (about 0.002 wt% of oxide). Assumptions about lab practice.
CALIBRATION_LIMITS_PPM: Final = (5.0, 20.0)
#: Background for isotopes: a broad range of continental and mantle-derived materials (an assumption, used
#: only as the "any deposit" alternative): epsilon-Nd(0) mean -12, sd 12; 87Sr/86Sr mean 0.712, sd 0.010.
ISOTOPE_BACKGROUND: Final = {"eNd": (-12.0, 12.0), "87Sr/86Sr": (0.712, 0.010)}


@dataclass(frozen=True)
class Raw:
    """Per-sample, per-deposit sums over the compared features (see ``FingerprintModel._raw``)."""

    score: NDArray[np.float64]  # log likelihood ratio vs background, every feature the reference fixes
    evidence: NDArray[np.float64]  # the same over non-redundant features only (open-set evidence)
    d2: NDArray[np.float64]  # squared z-scores over the non-redundant features
    m: NDArray[np.int64]  # number of non-redundant features compared


@dataclass(frozen=True)
class Scores:
    probabilities: NDArray[np.float64]  # n x K, calibrated
    log_p: NDArray[np.float64]  # n x K, log p-value of each deposit's D2 (nan where nothing comparable)
    score: NDArray[np.float64]  # n x K, log likelihood ratio of each deposit against the background
    observed: NDArray[np.int64]  # n x K, features compared per deposit
    vouch: NDArray[np.bool_]  # K, deposits whose reference is complete enough to accept a sample
    novelty: NDArray[np.float64]  # n, open-set score (higher = less like any vouching deposit)
    threshold: float  # novelty above which a sample matches no deposit in the library

    @property
    def best_log_p(self) -> NDArray[np.float64]:
        """Best log p-value among the deposits that can vouch for a sample."""
        usable = ~np.isnan(self.log_p) & self.vouch
        return np.asarray(np.max(np.where(usable, self.log_p, -np.inf), axis=1))

    @property
    def unknown(self) -> NDArray[np.bool_]:
        return np.asarray(self.novelty > self.threshold)


def known_mask(deposit: Deposit, space: FeatureSpace) -> NDArray[np.bool_]:
    """Features deposit has a sourced figure for; a group only where its members are not all known."""
    mask = np.zeros(len(space), dtype=bool)
    for key in deposit.shares:
        if "+" in key and all(m in deposit.shares for m in group_members(key)):
            continue
        mask[space.key_index(key)] = True
    eps = deposit.isotope("eNd_initial")
    if (eps is not None and "Sm" in deposit.shares and "Nd" in deposit.shares) or deposit.isotope("eNd"):
        mask[space.index["eNd"]] = True
    if deposit.isotope("87Sr/86Sr") is not None:
        mask[space.index["87Sr/86Sr"]] = True
    for name in space.ratios:
        mask[space.key_index(name)] = deposit.trace_ratio(name) is not None
    return mask


def _backgrounds() -> dict[str, tuple[float, float]]:
    """The fixed "any material" (mean, sd) of the isotope and trace-ratio features, by feature name."""
    return ISOTOPE_BACKGROUND | {ratio_feature(k): v for k, v in TRACE_BACKGROUND.items()}


class FingerprintModel:
    def __init__(
        self,
        deposits: tuple[Deposit, ...],
        space: FeatureSpace,
        train: Draws,
        lab_bias_sd: float = LAB_BIAS_SD,
    ) -> None:
        self.deposits = deposits
        self.library = Library(deposits, {}, "deposits given to the model")  # build_model sets the real one
        self.space = space
        k, f = len(deposits), len(space)
        self.known = np.array([known_mask(d, space) for d in deposits])
        self.vouch = np.array([d.complete_pattern for d in deposits])
        self._members = [[REY.index(e) for e in group_members(g)] for g in space.groups]
        # group sums a deposit knows through all its members: used only for samples lacking the members
        self.derived = self._derived()
        fitted = self.known | self.derived
        self.mean, self.sd = self._fit(train, fitted)
        # epsilon-Nd given the sample's own Sm/Nd (the Sm-Nd isochron of each deposit; ``isochron``)
        eps_col = space.index["eNd"]
        self.isochrons = isochron.fit(
            train.features.x[:, eps_col],
            isochron.sm_nd_atoms(train.features.x, train.features.censored),
            train.labels,
            self.known[:, eps_col],
        )
        # the lab-bias nuisance: its variance adds to every share feature, twice to a trace ratio (two
        # elements' calibrations), not to isotope ratios
        self.lab_bias_sd = lab_bias_sd
        self.sd = np.sqrt(self.sd**2 + space.bias_weights() * lab_bias_sd**2)
        self.bg_mean, self.bg_sd = self._background(fitted)
        self._group_cols = np.array([space.key_index(g) for g in space.groups], dtype=np.int64)
        self._group_basis = np.concatenate([self._group_cols + b * f for b in range(4)])
        self._coef = self._coefficients()
        self.temperature = 1.0
        self.d2_mean = np.ones(k)  # per compared feature
        self.d2_var = np.full(k, 2.0)
        # open-set scaling (median, 99th-percentile spread) of the fit and evidence statistics, and the
        # novelty threshold; set by calibrate() from held-apart calibration draws
        self.fit_scale = (0.0, 1.0)
        self.evidence_scale = (0.0, 1.0)
        self.novelty_threshold = math.inf
        # declared-origin test thresholds per deposit (log p of the fit, log LR against the best other
        # vouching deposit), each at ALPHA / 2 of the deposit's own calibration draws
        self.declared_fit = np.full(k, math.log(ALPHA / 2))
        self.declared_lr = np.full(k, -math.inf)

    def _derived(self) -> NDArray[np.bool_]:
        """Per deposit, the group sums it has no figure for but knows through all of the group's members."""
        derived = np.zeros(self.known.shape, dtype=bool)
        for j, g in enumerate(self.space.groups):
            col = self.space.key_index(g)
            derived[:, col] = ~self.known[:, col] & self.known[:, self._members[j]].all(axis=1)
        return derived

    def _fit(
        self, train: Draws, fitted: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(mean, sd) of each deposit's training draws in the features it has a figure for (``fitted``);
        0 and 1 elsewhere. The sd has a floor (``_MIN_SD``); the lab bias is added by the caller."""
        mean, sd = np.zeros(fitted.shape), np.ones(fitted.shape)
        for i, cols in enumerate(fitted):
            x = train.features.x[train.labels == i]
            mean[i, cols] = np.nanmean(x[:, cols], axis=0)
            sd[i, cols] = np.maximum(np.nanstd(x[:, cols], axis=0), _MIN_SD)
        return mean, sd

    def _background(self, fitted: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(mean, sd) per feature of rare-earth material in general: fixed where ``_backgrounds`` gives one,
        else with equal weight per deposit the mixture mean and variance of every deposit with a figure."""
        f = len(self.space)
        bg_mean, bg_sd = np.zeros(f), np.ones(f)
        fixed = _backgrounds()
        for j, name in enumerate(self.space.names):
            if name in fixed:
                bg_mean[j], bg_sd[j] = fixed[name]
            elif fitted[:, j].any():
                m, s = self.mean[fitted[:, j], j], self.sd[fitted[:, j], j]
                bg_mean[j] = m.mean()
                bg_sd[j] = math.sqrt(float(np.mean(s**2 + (m - m.mean()) ** 2)))
        return bg_mean, bg_sd

    # --- scoring ------------------------------------------------------------------------------------------

    def _coefficients(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Coefficients that turn per-feature terms into per-deposit sums (see ``_raw``): columns of
        (x^2, x, 1, log B(x)) blocks, rows per deposit of [score, d2, m] over its own figures and score over
        the sums it fixes through members (for every observed feature), and [score, d2, m] over those sums
        (for group features whose members are not compared)."""
        inv_var = 1.0 / self.sd**2
        quad, lin = -0.5 * inv_var, self.mean * inv_var
        const = -0.5 * self.mean**2 * inv_var - np.log(self.sd)
        zero = np.zeros_like(self.sd)

        def rows(mask: NDArray[np.bool_]) -> tuple[NDArray[np.float64], ...]:
            d = mask.astype(float)
            score = np.hstack([d * quad, d * lin, d * const, -d])
            d2 = np.hstack([d * inv_var, -2.0 * d * lin, d * self.mean**2 * inv_var, zero])
            count = np.hstack([zero, zero, d, zero])
            return score, d2, count

        own, through = rows(self.known), rows(self.derived)
        return np.vstack([*own, through[0]]).T, np.vstack(through).T[self._group_basis]

    def _raw(self, x: NDArray[np.float64] | Observed) -> Raw:
        """Sums over the compared features (``_raw_matrix``), with each measured epsilon-Nd scored on the
        deposit's Sm-Nd isochron (``_on_isochrons``)."""
        data = Observed.of(x)
        return self._on_isochrons(data, self._raw_matrix(data))

    def _on_isochrons(self, data: Observed, raw: Raw) -> Raw:
        """``raw`` with each deposit's epsilon-Nd term taken given the sample's Sm/Nd (``isochron``); the
        feature count is unchanged (epsilon-Nd is still one compared feature)."""
        col = self.space.index["eNd"]
        own = self.own_variance(data.var)  # as the scoring being corrected took it
        d_term, d_z2 = isochron.correction(
            self.isochrons, self.space, data.x, data.censored, self.mean[:, col], self.sd[:, col],
            None if own is None else own[:, col],
        )  # fmt: skip
        if not d_term.any():
            return raw
        return Raw(raw.score + d_term, raw.evidence + d_term, np.maximum(raw.d2 + d_z2, 0.0), raw.m)

    def _raw_matrix(self, x: NDArray[np.float64] | Observed) -> Raw:
        """Sums over the compared features. Measured entries without a per-sample variance go through two
        matrix products: each Gaussian term is a quadratic in x, so the observed (x^2, x, 1, log B(x)) times
        per-deposit coefficients gives every deposit's sums at once (no loop over deposits, no n x K x f
        array). Censored entries (a value below a detection limit) are added from the normal CDF at their
        bound, and entries with their own variance (reported uncertainty, rounding) get the difference
        their widened spread makes; both as arrays over those entries only. ``_raw_direct`` computes the same
        term by term (a second implementation, tested against this one)."""
        obs_in = Observed.of(x)
        x, cens = obs_in.x, obs_in.censored
        obs = ~np.isnan(x)
        members_obs = self._members_observed(obs)
        measured = obs & ~cens
        xz = np.where(measured, x, 0.0)  # zero where not measured, so x^2 and x terms vanish there
        w = measured.astype(float)
        zb = (xz - self.bg_mean) / self.bg_sd
        log_bg = (-0.5 * zb**2 - np.log(self.bg_sd)) * w
        basis = np.hstack([xz**2, xz, w, log_bg])
        every, alone = self._coef
        k = len(self.deposits)
        a = basis @ every
        # a group sum counts once: only where its members are not compared (group columns only)
        single = np.tile(~members_obs[:, self._group_cols], 4)
        b = (basis[:, self._group_basis] * single) @ alone
        s_own, d2_own, m_own, s_through = (a[:, i * k : (i + 1) * k] for i in range(4))
        s_alone, d2_alone, m_alone = (b[:, i * k : (i + 1) * k] for i in range(3))
        score, evidence = s_own + s_through, s_own + s_alone
        d2, m = d2_own + d2_alone, m_own + m_alone
        sums = (score, evidence, d2, m)
        if cens.any():
            rows, cols = np.nonzero(cens)
            z = (x[rows, cols][:, None] - self.mean[:, cols].T) / self.sd[:, cols].T  # E x K
            zb_c = (x[rows, cols] - self.bg_mean[cols]) / self.bg_sd[cols]
            term = special.log_ndtr(z) - special.log_ndtr(zb_c)[:, None]
            self._add_entries(sums, rows, cols, members_obs, term, np.minimum(z, 0.0) ** 2, count=True)
        own_var = self.own_variance(obs_in.var)
        if own_var is not None:
            # an entry's own variance (reported uncertainty, rounding) widens its terms: the matrix path
            # scored it with the deposit's spread alone, so add the difference
            rows, cols = np.nonzero(measured & (own_var > 0))
            if rows.size:
                v = own_var[rows, cols]
                xe = x[rows, cols][:, None]
                sd0, sd1 = self.sd[:, cols].T, np.sqrt(self.sd[:, cols].T ** 2 + v[:, None])
                bsd0, bsd1 = self.bg_sd[cols], np.sqrt(self.bg_sd[cols] ** 2 + v)
                z0, z1 = (xe - self.mean[:, cols].T) / sd0, (xe - self.mean[:, cols].T) / sd1
                zb0 = (x[rows, cols] - self.bg_mean[cols]) / bsd0
                zb1 = (x[rows, cols] - self.bg_mean[cols]) / bsd1
                own = (-0.5 * z1**2 - np.log(sd1)) - (-0.5 * z0**2 - np.log(sd0))
                bg = (-0.5 * zb1**2 - np.log(bsd1)) - (-0.5 * zb0**2 - np.log(bsd0))
                self._add_entries(
                    sums, rows, cols, members_obs, own - bg[:, None], z1**2 - z0**2, count=False
                )
        return Raw(score, evidence, np.maximum(d2, 0.0), np.rint(m).astype(np.int64))

    def own_variance(self, var: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
        """A sample's own variances, those below ``VAR_NEGLIGIBLE`` of the smallest deposit variance of
        their feature set to zero (None when nothing is left)."""
        if var is None:
            return None
        kept = np.where(var > VAR_NEGLIGIBLE * np.min(self.sd**2, axis=0), var, 0.0)
        return kept if kept.any() else None

    def _add_entries(
        self,
        sums: tuple[NDArray[np.float64], ...],
        rows: NDArray[np.intp],
        cols: NDArray[np.intp],
        members_obs: NDArray[np.bool_],
        term: NDArray[np.float64],
        miss: NDArray[np.float64],
        *,
        count: bool,
    ) -> None:
        """Add per-entry terms (E x K, for the entries at ``rows``, ``cols``) to the (score, evidence, d2,
        m) sums, weighted as the matrix path weighs them (own figures; sums fixed through members)."""
        score, evidence, d2, m = sums
        once_w = self.known[:, cols].T + self.derived[:, cols].T * ~members_obs[rows, cols][:, None]
        every_w = (self.known | self.derived)[:, cols].T
        # np.nonzero gives the entries row by row, so each row's entries are one run: sum the runs
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        hit = rows[starts]
        pairs = [(score, term * every_w), (evidence, term * once_w), (d2, miss * once_w)]
        if count:
            pairs.append((m, once_w.astype(float)))
        for target, value in pairs:
            target[hit] += np.add.reduceat(value, starts, axis=0)

    def _members_observed(self, obs: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per group column: whether all its members are reported (measured or censored)."""
        members_obs = np.zeros_like(obs)
        for j, g in enumerate(self.space.groups):
            members_obs[:, self.space.key_index(g)] = obs[:, self._members[j]].all(axis=1)
        return members_obs

    def _raw_direct(self, data: Observed, chunk: int = 2048) -> Raw:
        """The same sums term by term (n x K x f, in chunks), with each entry's own variance added to the
        deposit's: the second implementation the matrix path is tested against."""
        parts = [self._raw_chunk(data.rows(slice(i, i + chunk))) for i in range(0, len(data), chunk)]
        if not parts:
            k = len(self.deposits)
            return Raw(np.zeros((0, k)), np.zeros((0, k)), np.zeros((0, k)), np.zeros((0, k), dtype=np.int64))
        raw = Raw(*(np.vstack([getattr(p, f) for p in parts]) for f in ("score", "evidence", "d2", "m")))
        return self._on_isochrons(data, raw)

    def _raw_chunk(self, data: Observed) -> Raw:
        x, cens = data.x, data.censored
        own = self.own_variance(data.var)
        extra = np.zeros_like(x) if own is None else own
        obs = ~np.isnan(x)
        members_obs = self._members_observed(obs)
        xz = np.where(obs, x, 0.0)
        sd = np.sqrt(self.sd[None] ** 2 + extra[:, None, :])  # n x K x f
        z = (xz[:, None, :] - self.mean[None]) / sd
        bsd = np.sqrt(self.bg_sd**2 + extra)
        zb = (xz - self.bg_mean) / bsd
        measured_term = -0.5 * z**2 - np.log(sd) - (-0.5 * zb**2 - np.log(bsd))[:, None, :]
        with np.errstate(divide="ignore"):
            cens_term = (
                special.log_ndtr(np.where(cens[:, None, :], z, 0.0))
                - special.log_ndtr(np.where(cens, zb, 0.0))[:, None, :]
            )
        cens3 = cens[:, None, :]
        term = np.where(cens3, cens_term, measured_term) * obs[:, None, :]
        miss = np.where(cens3, np.minimum(z, 0.0) ** 2, z**2) * obs[:, None, :]
        own, through = self.known[None].astype(float), self.derived[None].astype(float)
        once = own + through * ~members_obs[:, None, :]
        score = np.sum(term * (own + through), axis=2)
        evidence = np.sum(term * once, axis=2)
        d2 = np.sum(miss * once, axis=2)
        m = np.rint(np.sum(once * obs[:, None, :], axis=2)).astype(np.int64)
        return Raw(score, evidence, d2, m)

    def _chi2(
        self, d2: NDArray[np.float64], m: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(D2 / scale, degrees of freedom) of each deposit's scaled chi-square for m compared features."""
        mu, var = self.d2_mean * m, self.d2_var * m
        with np.errstate(all="ignore"):
            return d2 * (2 * mu) / var, 2 * mu**2 / var

    def _log_p(self, d2: NDArray[np.float64], m: NDArray[np.int64]) -> NDArray[np.float64]:
        q, dof = self._chi2(d2, m)
        with np.errstate(all="ignore"):
            out = np.asarray(stats.chi2.logsf(q, dof), dtype=float)
        return np.where(m > 0, out, np.nan)

    def _statistics(
        self, score: NDArray[np.float64], d2: NDArray[np.float64], m: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(fit, evidence) open-set statistics per sample, higher = less like any vouching deposit; +inf
        where no vouching deposit has a comparable feature."""
        q, dof = self._chi2(d2, m)
        usable = (m > 0) & self.vouch
        with np.errstate(all="ignore"):
            # Wilson-Hilferty: a chi-square with dof degrees of freedom as a standard normal score
            c = 2.0 / (9.0 * dof)
            z = (np.cbrt(q / dof) - (1.0 - c)) / np.sqrt(c)
        fit = np.min(np.where(usable, z, np.inf), axis=1)
        evidence = -np.max(np.where(usable, score, -np.inf), axis=1)
        return np.asarray(fit), np.asarray(evidence)

    def _novelty(
        self, score: NDArray[np.float64], d2: NDArray[np.float64], m: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        fit, evidence = self._statistics(score, d2, m)
        (f0, fs), (e0, es) = self.fit_scale, self.evidence_scale
        return np.asarray(np.maximum((fit - f0) / fs, (evidence - e0) / es))

    def scores(self, x: NDArray[np.float64] | Observed, among: NDArray[np.bool_] | None = None) -> Scores:
        """Calibrated probabilities over the deposits (``among``: a mask to restrict to), p-values and the
        open-set novelty."""
        raw = self._raw(x)
        score, d2, m = raw.score, raw.d2, raw.m
        logits = score / self.temperature
        if among is not None:
            logits = np.where(among, logits, -np.inf)
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        return Scores(
            prob,
            self._log_p(d2, m),
            score,
            m,
            self.vouch,
            self._novelty(raw.evidence, d2, m),
            self.novelty_threshold,
        )

    def classify(
        self, x: NDArray[np.float64] | Observed
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        """Fast path for many samples: (top deposit index, its probability, open-set rejection)."""
        raw = self._raw(x)
        logits = raw.score / self.temperature
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        top = self.top(prob)
        p_top = prob[np.arange(len(top)), top] / prob.sum(axis=1)
        novelty = self._novelty(raw.evidence, raw.d2, raw.m)
        return top, p_top, np.asarray(novelty > self.novelty_threshold)

    def top(self, prob: NDArray[np.float64]) -> NDArray[np.int64]:
        """Top-1 deposit of each sample: the most probable deposit that can vouch for a sample; a partial
        reference only where no deposit of the library can vouch."""
        if not self.vouch.any():
            return np.asarray(np.argmax(prob, axis=1))
        return np.asarray(np.argmax(np.where(self.vouch, prob, -1.0), axis=1))

    def lr_against_others(self, score: NDArray[np.float64]) -> NDArray[np.float64]:
        """n x K: each deposit's log likelihood ratio against the best *other* vouching deposit (the
        declared-origin test's "does another deposit explain it better?")."""
        masked = np.where(self.vouch, score, -np.inf)
        order = np.argsort(-masked, axis=1)
        first = np.take_along_axis(masked, order[:, :1], axis=1)
        second = np.take_along_axis(masked, order[:, 1:2], axis=1) if masked.shape[1] > 1 else -np.inf
        best_other = np.where(np.arange(score.shape[1])[None, :] == order[:, :1], second, first)
        return np.asarray(score - best_other)

    def declared_fails(
        self, log_p: NDArray[np.float64], llr: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """(fit fails, outweighed) per sample and deposit at the calibrated thresholds (ALPHA / 2 each, so
        a sample truly from the deposit fails either with probability at most about ALPHA)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(log_p < self.declared_fit), np.asarray(llr < self.declared_lr)

    def declared_excess(self, log_p: NDArray[np.float64], llr: NDArray[np.float64]) -> NDArray[np.float64]:
        """n x K: how far each sample lies past each deposit's two declared-origin thresholds (the larger of
        the two margins; > 0 exactly where ``declared_fails`` fails it, -inf where neither test applies).
        ``conformal`` calibrates the thresholds on these margins."""
        with np.errstate(invalid="ignore"):
            margins = np.maximum(
                np.nan_to_num(self.declared_fit - log_p, nan=-np.inf),
                np.nan_to_num(self.declared_lr - llr, nan=-np.inf),
            )
        return np.asarray(margins)

    def shift_declared(self, shift: NDArray[np.float64]) -> None:
        """Move each deposit's two declared-origin thresholds down by ``shift`` (K; calibrated on a library's
        own samples, ``conformal``); the likelihood-ratio threshold stays at or below 0."""
        self.declared_fit = self.declared_fit - shift
        self.declared_lr = np.minimum(self.declared_lr - shift, 0.0)

    # --- calibration --------------------------------------------------------------------------------------

    def calibrate(self, draws: Draws) -> None:
        """Fit the temperature and the D2 scaling on every other calibration draw, then the open-set scaling
        and threshold on the rest, so the threshold is set on draws the D2 scaling did not see."""
        raw = self._raw(draws.features)
        score, evidence, d2, m = raw.score, raw.evidence, raw.d2, raw.m
        first = np.arange(len(draws.labels)) % 2 == 0
        rows = np.flatnonzero(first)
        labels = draws.labels[first]

        def nll(t: float) -> float:
            logits = score[rows] / t
            logits = logits - logits.max(axis=1, keepdims=True)
            logz = np.log(np.exp(logits).sum(axis=1))
            return float(np.mean(logz - logits[np.arange(len(rows)), labels]))

        self.temperature = float(optimize.minimize_scalar(nll, bounds=(0.05, 50.0), method="bounded").x)
        for i in range(len(self.deposits)):
            own = first & (draws.labels == i)
            per = d2[own, i] / np.maximum(m[own, i], 1)
            self.d2_mean[i] = float(per.mean())
            self.d2_var[i] = float(max(np.var(d2[own, i]) / max(float(m[own, i].mean()), 1.0), 1e-6))
        rest = ~first & self.vouch[draws.labels]
        fit, best = self._statistics(evidence[rest], d2[rest], m[rest])
        ok = np.isfinite(fit) & np.isfinite(best)
        self.fit_scale = _robust_scale(fit[ok])
        self.evidence_scale = _robust_scale(best[ok])
        novelty = self._novelty(evidence[rest], d2[rest], m[rest])
        self.novelty_threshold = float(np.quantile(novelty[np.isfinite(novelty)], 1.0 - ALPHA))
        log_p, llr = self._log_p(d2, m), self.lr_against_others(score)
        for i in range(len(self.deposits)):
            own = ~first & (draws.labels == i)
            lp = log_p[own, i]
            self.declared_fit[i] = float(np.quantile(lp[np.isfinite(lp)], ALPHA / 2))
            lr = llr[own, i]
            if self.vouch[i] and np.isfinite(lr).any():
                # never above 0: "outweighed" means another deposit explains the sample better, so a
                # sample that says little (heavy censoring, coarse rounding) is not accused for lack of it
                self.declared_lr[i] = min(float(np.quantile(lr[np.isfinite(lr)], ALPHA / 2)), 0.0)


def _robust_scale(values: NDArray[np.float64]) -> tuple[float, float]:
    """(median, 99th percentile minus median): puts two statistics in comparable units."""
    centre = float(np.median(values))
    return centre, max(float(np.quantile(values, 0.99)) - centre, 1e-9)


def build_model(library: Library, seed: int = SEED, lab_bias_sd: float | None = None) -> FingerprintModel:
    """Fit on simulated training draws and calibrate on separate draws (fixed seeds: deterministic)."""
    groups = {key for d in library.deposits for key in d.shares if "+" in key}
    ratios = {r.ratio for d in library.deposits for r in d.ratios if d.trace_ratio(r.ratio) is not None}
    space = FeatureSpace(groups, ratios)
    deposits = library.deposits
    if lab_bias_sd is None:
        lab_bias_sd = library.lab_bias_sd if library.lab_bias_sd is not None else LAB_BIAS_SD

    def draws(n: int, s: int, plan: Sequence[tuple[str, bool, Noise]]) -> Draws:
        parts = [
            simulate(deposits, space, n // len(plan), s + i, form=form, isotopes=iso, ratios=iso, noise=noise)
            for i, (form, iso, noise) in enumerate(plan)
        ]
        return Draws(
            Observed.stack([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.vstack([p.ppm for p in parts]),
            np.vstack([p.censored for p in parts]),
        )

    # training draws are not censored (the likelihood handles censoring, so the Gaussians describe the
    # values themselves); calibration draws are censored at three regimes of detection limits (trace
    # ICP-MS, ore-grade, coarse) and carry the lab bias the model assumes, so thresholds are set on assays
    # that say as little as the ones it will read
    uncensored = Noise(detection_limit_ppm=dict.fromkeys(REY, 1e-12))
    training = [(form, iso, uncensored) for form in ("ore", "concentrate") for iso in (False, True)]
    model = FingerprintModel(deposits, space, draws(N_TRAIN, seed, training), lab_bias_sd)
    regimes = [
        Noise(lab_bias_sd=lab_bias_sd, detection_limit_ppm=limits)
        for limits in (Noise().detection_limit_ppm, dict.fromkeys(REY, CALIBRATION_LIMITS_PPM[0]),
                       dict.fromkeys(REY, CALIBRATION_LIMITS_PPM[1]))
    ]  # fmt: skip
    calibration = [
        (form, (i + j) % 2 == 1, noise)
        for i, form in enumerate(("ore", "concentrate"))
        for j, noise in enumerate(regimes)
    ]
    model.calibrate(draws(N_CALIBRATE, seed + 1000, calibration))
    # a library built from samples may carry thresholds calibrated on them (``conformal``)
    model.novelty_threshold += library.novelty_shift
    model.shift_declared(np.array([library.declared_shift.get(d.id, 0.0) for d in deposits]))
    model.library = library
    return model


@cache
def default_model() -> FingerprintModel:
    """The model of the shipped library, built once per process."""
    return build_model(load_library())


__all__ = ["ALPHA", "REY", "FingerprintModel", "Raw", "Scores", "build_model", "default_model"]
