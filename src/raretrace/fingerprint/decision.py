"""The declared-origin decision, for one sample or a batch: consistent, inconsistent or indeterminate.

Built for enforcement: each outcome has a stated error rate, measured by the evaluation.

* A deposit that can vouch for a sample (``Deposit.complete_pattern``) is tested twice, each at ALPHA / 2 of
  its own calibration draws (``FingerprintModel.declared_fails``): does the sample fit its spread (the
  per-deposit D2 p-value), and does no other vouching deposit explain it far better than usual for the
  deposit's own samples (log likelihood ratio against the best other)? A truthful declaration fails
  either with probability at most about ALPHA (Bonferroni).
* A partial reference (a few figures) can only say whether the sample fits those figures; it never makes a
  declaration ``consistent``, and it never saves a *clear mismatch*: a sample that a vouching deposit outside
  the declaration claims (it fits that deposit, matches the library, and the Bayes factor of the declared
  deposits against the others is below ``LR_CLAIM``) is ``inconsistent`` whatever partial references the
  declared country also has.
* ``indeterminate`` is left for what the library truly cannot tell: no reference for the declared origin, no
  comparable features, a sample that only a partial reference of the declaration fits and no vouching
  deposit elsewhere claims, or a report too coarse to judge: fewer than ``COMPLETE_MIN`` REY measured to 10%
  or better (``Observed.precise_count``; e.g. oxide wt% to three decimals on a low-grade ore). Such a report
  is neither cleared nor accused: the answer is "send a finer assay", which under a regime requiring a
  consistent fingerprint does not pass either.

For processed forms only the isotopes speak; a deposit's isotope reference is then tested by its D2 p-value
at ALPHA (no likelihood-ratio test: isotopes alone do not identify a deposit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.fingerprint.library import COMPLETE_MIN
from raretrace.fingerprint.model import ALPHA, FingerprintModel, Scores

#: Bayes factor (declared deposits against the rest, uniform prior) below which a vouching deposit outside the
#: declaration that fits the sample claims it: 1:100.
LR_CLAIM: Final = 0.01
CONSISTENT: Final = "consistent"
INCONSISTENT: Final = "inconsistent"
INDETERMINATE: Final = "indeterminate"


@dataclass(frozen=True)
class Verdicts:
    status: NDArray[np.str_]  # n
    reason: tuple[str, ...]  # n, "" where the status speaks for itself
    p_value: NDArray[np.float64]  # n, best p-value of a declared deposit (nan: none comparable)
    ratio: NDArray[np.float64]  # n, Bayes factor declared vs the others (nan: not computed)
    tested: NDArray[np.bool_]  # n x K, the declared deposits compared


@dataclass(frozen=True)
class _Facts:
    """Per sample, what the verdict is read from (see ``declared_verdicts``)."""

    any_tested: NDArray[np.bool_]
    coarse: NDArray[np.bool_]
    pattern: NDArray[np.bool_]
    iso_pass: NDArray[np.bool_]
    untestable: NDArray[np.bool_]
    vouch_pass: NDArray[np.bool_]
    claimed: NDArray[np.bool_]
    partial_fit: NDArray[np.bool_]
    vouching_declared: NDArray[np.bool_]


def _label(
    f: _Facts,
    model: FingerprintModel,
    top: NDArray[np.int64],
    any_declared: bool,
    precise: NDArray[np.int64] | None,
) -> tuple[NDArray[np.str_], tuple[str, ...]]:
    """The rules of the module docstring, in their order of precedence."""
    n = len(f.any_tested)
    status = np.full(n, INCONSISTENT, dtype=object)
    reason = [""] * n
    for i in range(n):
        if not f.any_tested[i]:
            status[i] = INDETERMINATE
            reason[i] = (
                "the library holds no reference for the declared origin"
                if not any_declared
                else "the library has no reference figures for the features given"
            )
        elif f.coarse[i]:
            assert precise is not None
            status[i] = INDETERMINATE
            reason[i] = (
                f"the report gives {int(precise[i])} REY values to 10% or better; at least {COMPLETE_MIN} "
                "are needed to judge a declaration (ask for a finer assay)"
            )
        elif not f.pattern[i]:
            if f.iso_pass[i]:
                status[i] = CONSISTENT
            elif f.untestable[i]:
                status[i] = INDETERMINATE
                reason[i] = "a declared deposit has no isotope reference to compare with"
        elif f.vouch_pass[i]:
            status[i] = CONSISTENT
        elif f.claimed[i]:
            reason[i] = (
                f"the chemistry is that of {model.deposits[int(top[i])].name}, which the declaration excludes"
            )
        elif f.partial_fit[i]:
            status[i] = INDETERMINATE
            reason[i] = (
                "only a partial reference of the declared origin fits; it gives too few figures to vouch "
                "for the sample, and no deposit elsewhere claims it"
            )
        elif f.untestable[i] and not f.vouching_declared[i]:
            status[i] = INDETERMINATE
            reason[i] = "a declared deposit has no reference to compare with"
    return np.asarray(status, dtype=str), tuple(reason)


def declared_verdicts(
    model: FingerprintModel,
    scores: Scores,
    declared: NDArray[np.bool_],
    comparable: NDArray[np.bool_],
    pattern: NDArray[np.bool_],
    precise: NDArray[np.int64] | None = None,
) -> Verdicts:
    """Verdicts for n samples declared to come from the deposits ``declared`` (K mask: one deposit, or all
    of a country's); ``comparable`` (n x K) says which deposits share a feature with each sample;
    ``pattern`` (n) whether the sample's rare-earth pattern is used (else isotopes only); ``precise`` (n) the
    number of REY each sample gives to 10% or better (None: all it gives)."""
    n = scores.probabilities.shape[0]
    vouch = model.vouch
    tested = declared[None, :] & comparable
    untestable: NDArray[np.bool_] = np.asarray((declared[None, :] & ~comparable).any(axis=1))
    log_p = np.where(tested, scores.log_p, np.nan)
    with np.errstate(invalid="ignore"):
        best_log_p = np.where(tested.any(axis=1), np.nanmax(np.where(tested, log_p, -np.inf), axis=1), np.nan)
    p_value = np.exp(best_log_p)
    fit_fail, outweighed = model.declared_fails(scores.log_p, model.lr_against_others(scores.score))
    fit_fail = np.where(pattern[:, None], fit_fail, scores.log_p < math.log(ALPHA))
    passes = tested & ~fit_fail
    vouch_pass: NDArray[np.bool_] = np.asarray((passes & vouch & ~outweighed).any(axis=1))
    partial_fit: NDArray[np.bool_] = np.asarray((passes & ~vouch).any(axis=1))
    iso_pass: NDArray[np.bool_] = np.asarray(passes.any(axis=1))
    others = comparable & ~declared[None, :]
    inside = np.sum(np.where(tested, scores.probabilities, 0.0), axis=1)
    outside = np.sum(np.where(others, scores.probabilities, 0.0), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = tested.sum(axis=1) / others.sum(axis=1)
        ratio = np.where(pattern & others.any(axis=1), (inside / np.maximum(outside, 1e-300)) / prior, np.nan)
    top = model.top(scores.probabilities)
    rows = np.arange(n)
    claimed: NDArray[np.bool_] = np.asarray(
        pattern
        & ~declared[top]
        & vouch[top]
        & ~scores.unknown
        & ~fit_fail[rows, top]
        & (np.nan_to_num(ratio, nan=np.inf) < LR_CLAIM)
    )
    coarse = np.zeros(n, dtype=bool) if precise is None else pattern & (precise < COMPLETE_MIN)
    facts = _Facts(
        np.asarray(tested.any(axis=1)), coarse, pattern, iso_pass, untestable, vouch_pass, claimed,
        partial_fit, np.asarray((tested & vouch).any(axis=1)),
    )  # fmt: skip
    status, reason = _label(facts, model, top, bool(declared.any()), precise)
    return Verdicts(status, reason, p_value, ratio, tested)


__all__ = ["CONSISTENT", "INCONSISTENT", "INDETERMINATE", "LR_CLAIM", "Verdicts", "declared_verdicts"]
