"""Evaluate the origin fingerprint on simulated assays: ``python -m raretrace.fingerprint.evaluate``.

Evaluation draws use their own seeds, never the training or calibration draws. A simulated assay reports
only the elements its deposit's reference publishes (``simulate``), so a figure means different things by
the reference's pattern group (``Deposit.pattern_group``), and every figure is reported per group:

* ``full``: the reference gives all 15 REY, so the simulated assays are complete, as a lab reports them;
* ``near-complete``: at least ``COMPLETE_MIN`` single REY; the assays hold only those, and the classifier
  compares every deposit on them alone (accuracy *on the published elements*, not on a full assay);
* ``partial``: fewer; the same, on their 1-7 single figures and group sums.

No honest simulation of a full assay exists for the last two groups: the missing elements would have to be
invented.

Reported:

1. closed set, per form (ore, concentrate): top-1 accuracy per group and over all deposits, per-deposit
   accuracy with the elements its assays hold, confusion matrix, Brier score and expected calibration error
   (15 equal-width bins of top-1 confidence) per group and overall, and the measured false-rejection rate of
   the open-set test;
2. open set: each deposit in turn is left out of training and threshold fitting entirely; per form, AUROC of
   the novelty score for its samples against samples of the deposits kept, the share of its samples rejected
   and the share of known samples wrongly rejected (the false-rejection rate at the chosen threshold);
3. throughput of the batch path (features from ppm, probabilities and rejection).

The output is plain text; ``--quick`` uses fewer samples (for tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from raretrace.fingerprint.library import (
    COMPLETE_MIN,
    Deposit,
    Library,
    library_data,
    library_from_dict,
    load_library,
)
from raretrace.fingerprint.model import ALPHA, SEED, FingerprintModel, build_model, default_model
from raretrace.fingerprint.simulate import Noise, simulate

EVAL_SEED = SEED + 7_000_000  # far from the training (SEED..) and calibration (SEED+1000..) seeds
FORM_SEEDS = {"ore": 1, "concentrate": 2}
TARGET_ACCURACY, TARGET_AUROC, TARGET_RATE = 0.95, 0.95, 50_000.0


def auroc(positive: NDArray[np.float64], negative: NDArray[np.float64]) -> float:
    """Area under the ROC curve (Mann-Whitney U), ties counted half."""
    ranks = stats.rankdata(np.concatenate([positive, negative]))
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def expected_calibration_error(
    conf: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 15
) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(float(correct[sel].mean()) - float(conf[sel].mean()))
    return ece


GROUPS = ("full", "near-complete", "partial")


def _coverage(deposit: Deposit) -> str:
    """What a simulated assay of ``deposit`` holds: single REY out of 15, plus the group figures."""
    groups = sum("+" in key for key in deposit.shares)
    return f"{len(deposit.published_rey)}/15" + (f"+{groups}g" if groups else "")


def _calibration(prob: NDArray[np.float64], labels: NDArray[np.int64]) -> tuple[float, float, float]:
    """(top-1 accuracy, multi-class Brier score, expected calibration error) of some samples."""
    correct = prob.argmax(axis=1) == labels
    onehot = np.eye(prob.shape[1])[labels]
    brier = float(np.mean(np.sum((prob - onehot) ** 2, axis=1)))
    return float(correct.mean()), brier, expected_calibration_error(prob.max(axis=1), correct)


def _confusion(
    deposits: Sequence[Deposit],
    labels: NDArray[np.int64],
    pred: NDArray[np.int64],
    unknown: NDArray[np.bool_],
    out: list[str],
) -> None:
    """Per deposit: its accuracy, the share rejected as unknown, and its row of the confusion matrix."""
    out.append(
        "per deposit (accuracy, share rejected as unknown) and confusion matrix (rows true, columns "
        "predicted); 'holds' = single REY of 15 in the simulated assays, +Ng = group figures"
    )
    abbrev = [f"{i:>2}" for i in range(len(deposits))]
    out.append(
        f"{'':>4} {'deposit':<16} {'group':<14} {'holds':<8} {'acc':>6} {'rej':>6}  "
        + " ".join(f"{a:>4}" for a in abbrev)
    )
    for i, d in enumerate(deposits):
        sel = labels == i
        row = np.bincount(pred[sel], minlength=len(deposits))
        out.append(
            f"{i:>4} {d.id:<16} {d.pattern_group:<14} {_coverage(d):<8} {(pred[sel] == i).mean():>6.3f} "
            f"{unknown[sel].mean():>6.3f}  " + " ".join(f"{c:>4}" for c in row)
        )


def _closed_set(model: FingerprintModel, form: str, n: int, out: list[str]) -> dict[str, float]:
    """Closed-set figures of one form; returns top-1 accuracy per group, over all deposits ("all") and over
    the deposits that can vouch for a sample ("complete": full and near-complete)."""
    deposits = model.deposits
    seed = EVAL_SEED + FORM_SEEDS[form]
    draws = simulate(deposits, model.space, n, seed, form=form)
    scores = model.scores(draws.features)
    prob, labels = scores.probabilities, draws.labels
    pred = prob.argmax(axis=1)
    group = np.array([d.pattern_group for d in deposits])[labels]
    complete = np.array([d.complete_pattern for d in deposits])
    out.append(f"\n## Closed set: {form} ({n} simulated assays per deposit, seed {seed})")
    out.append(
        f"{'group':<15} {'deposits':>8} {'assays hold':<26} {'top-1':>7} {'Brier':>7} {'ECE':>7} "
        f"{'rejected':>9}"
    )
    holds = {
        "full": "all 15 REY (a lab's assay)",
        "near-complete": "the published REY only",
        "partial": "the published figures only",
    }
    acc: dict[str, float] = {}
    for name in (*GROUPS, "all"):
        sel = np.ones(len(labels), dtype=bool) if name == "all" else group == name
        count = len({int(i) for i in labels[sel]})
        if not sel.any():
            continue
        a, brier, ece = _calibration(prob[sel], labels[sel])
        acc[name] = a
        what = holds.get(name, "as above, per deposit")
        out.append(
            f"{name:<15} {count:>8} {what:<26} {a:>7.4f} {brier:>7.4f} {ece:>7.4f} "
            f"{scores.unknown[sel].mean():>9.4f}"
        )
    acc["complete"] = float((pred == labels)[complete[labels]].mean())
    out.append(
        f"top-1 over the {int(complete.sum())} deposits with >= {COMPLETE_MIN} sourced REY (full and "
        f"near-complete): {acc['complete']:.4f}"
    )
    out.append(
        f"false-rejection rate of the open-set test, those deposits (nominal {ALPHA:g}): "
        f"{scores.unknown[complete[labels]].mean():.4f}; partial references cannot vouch for a sample, so "
        "their own samples are rejected more often (column 'rejected')"
    )
    _confusion(deposits, labels, pred, scores.unknown, out)
    return acc


def _open_set(library: Library, n_out: int, n_in: int, out: list[str]) -> float:
    """Leave each deposit out of training and calibration entirely; score its fresh draws against fresh
    draws of the deposits kept. Returns the smaller (over ore and concentrate) mean AUROC over the held-out
    complete-pattern deposits."""
    out.append(
        f"\n## Open set: each deposit left out of training and threshold fitting entirely "
        f"({n_out} held-out assays, {n_in} per known deposit, per form)"
    )
    out.append(
        "score: novelty (larger of the scaled fit and likelihood-ratio statistics, see model.py); "
        f"negatives: known full and near-complete deposits (>= {COMPLETE_MIN} sourced REY, the only ones "
        "that can vouch for a sample; assays of their published elements); 'with partial' adds the "
        "simulated assays of the partial-reference deposits (their 1-7 figures) as negatives"
    )
    out.append(
        f"{'held out':<16} {'group':<14} {'form':<12} {'AUROC':>7} {'w/ partial':>10} {'rejected':>9} "
        f"{'known rejected':>15} {'rejected@5%':>12}"
    )
    per_form: dict[str, list[float]] = {form: [] for form in FORM_SEEDS}
    per_form_all: dict[str, list[float]] = {form: [] for form in FORM_SEEDS}
    frr: dict[str, list[float]] = {form: [] for form in FORM_SEEDS}
    pooled: dict[str, tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]] = {
        form: ([], []) for form in FORM_SEEDS
    }
    for k, held in enumerate(library.deposits):
        model = build_model(library.without(held.id))
        kind = held.pattern_group
        for form, form_seed in FORM_SEEDS.items():
            seed = EVAL_SEED + 100 * (k + 1) + 10 * form_seed
            unknown = simulate((held,), model.space, n_out, seed, form=form)
            known = simulate(model.deposits, model.space, n_in, seed + 5, form=form)
            s_out, s_in = model.scores(unknown.features), model.scores(known.features)
            vouched = model.vouch[known.labels]
            a = auroc(s_out.novelty, s_in.novelty[vouched])
            a_all = auroc(s_out.novelty, s_in.novelty)
            known_rej = float(s_in.unknown[vouched].mean())
            # share of held-out samples rejected at the threshold that rejects 5% of these known samples
            at5 = float(np.mean(s_out.novelty > np.quantile(s_in.novelty[vouched], 0.95)))
            out.append(
                f"{held.id:<16} {kind:<14} {form:<12} {a:>7.4f} {a_all:>10.4f} {s_out.unknown.mean():>9.3f} "
                f"{known_rej:>15.3f} {at5:>12.3f}"
            )
            if held.complete_pattern:
                per_form[form].append(a)
                per_form_all[form].append(a_all)
                frr[form].append(known_rej)
                pooled[form][0].append(s_out.novelty)
                pooled[form][1].append(s_in.novelty[vouched])
    n_complete = sum(d.complete_pattern for d in library.deposits)
    for form in FORM_SEEDS:
        aurocs = np.array(per_form[form])
        pos, neg = pooled[form]
        out.append(
            f"{form}: {n_complete} complete-pattern deposits held out: mean AUROC {aurocs.mean():.4f} "
            f"(min {aurocs.min():.4f}, pooled {auroc(np.concatenate(pos), np.concatenate(neg)):.4f}; "
            f"with partial-reference negatives {np.mean(per_form_all[form]):.4f}); "
            f"false-rejection rate of known complete-pattern samples {np.mean(frr[form]):.4f} "
            f"(nominal {ALPHA:g})"
        )
    return float(min(np.mean(v) for v in per_form.values()))


def _throughput(model: FingerprintModel, n: int, out: list[str]) -> float:
    draws = simulate(model.deposits, model.space, max(n // len(model.deposits), 1), EVAL_SEED + 999)
    complete = np.isfinite(draws.ppm).all(axis=1)
    ppm = draws.ppm[complete]
    start = time.perf_counter()
    features = model.space.from_ppm(ppm)
    model.classify(features)
    rate = len(ppm) / (time.perf_counter() - start)
    out.append(f"\n## Throughput: {len(ppm)} complete REY assays, features + probabilities + rejection")
    out.append(f"{rate:,.0f} samples/s (one process, numpy)")
    return rate


def _targets(library: Library, acc: dict[str, float], auc: float, rate: float, out: list[str]) -> None:
    """Whether each target was met: top-1 accuracy by group, open-set AUROC and throughput."""
    out.append("\n## Targets")
    counts = {g: sum(d.pattern_group == g for d in library.deposits) for g in GROUPS}
    for name, label in (
        (
            "complete",
            f"{counts['full'] + counts['near-complete']} deposits with >= {COMPLETE_MIN} sourced REY",
        ),
        ("full", f"{counts['full']} deposits with all 15 REY sourced (complete assays)"),
        ("near-complete", f"{counts['near-complete']} near-complete deposits (assays of the published REY)"),
        ("partial", f"{counts['partial']} partial deposits (assays of their 2-7 published figures)"),
        ("all", f"all {len(library.deposits)} deposits"),
    ):
        if name in acc:
            out.append(
                f"top-1 >= {TARGET_ACCURACY:.0%} on ore and concentrate, {label}: "
                f"{'met' if acc[name] >= TARGET_ACCURACY else 'NOT met'} ({acc[name]:.4f}, worse form)"
            )
    if acc.get("partial", 1.0) < TARGET_ACCURACY:
        out.append(
            "  why not on partial references: their sources give 1-7 single REY (some only group sums), so "
            "their samples can be told apart only on those figures, where several references overlap "
            "(Maoniuping and Mountain Pass, Kachin and Browns Range and Longnan, Nolans and the light-REE "
            "deposits); completing them needs published distributions, not modelling"
        )
    verdict = "met" if auc >= TARGET_AUROC else "NOT met"
    out.append(
        f"open-set AUROC >= {TARGET_AUROC} (mean over complete-pattern deposits held out, worse of ore and "
        f"concentrate): {verdict} ({auc:.4f})"
    )
    out.append(
        f">= {TARGET_RATE:,.0f} samples/s: {'met' if rate >= TARGET_RATE else 'NOT met'} ({rate:,.0f})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raretrace.fingerprint.evaluate", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke test)")
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="also run the open-set evaluation as if every reference were verified (variability not widened)",
    )
    args = parser.parse_args(argv)
    n, n_out, n_in, n_rate = (100, 100, 20, 20_000) if args.quick else (2000, 1000, 200, 300_000)
    library = load_library()
    noise = Noise()
    out = [
        "# raretrace origin fingerprint: evaluation on simulated assays",
        f"library: {len(library.deposits)} deposits ({sum(d.approximate for d in library.deposits)} with "
        "approximate reference figures); training and calibration draws use seeds "
        f"{SEED}.. and {SEED + 1000}.., evaluation draws {EVAL_SEED}..",
        "simulation: natural variation = library log-sd (Student-t, 6 d.o.f.) + shared slope sd "
        f"{noise.slope_sd}; analytical RSD {noise.rsd:.0%}; detection limits "
        f"{noise.detection_limit_ppm['La']} ppm (lanthanides), {noise.detection_limit_ppm['Y']} ppm (Y); "
        "values below DL censored in the likelihood (normal CDF at the limit)",
    ]
    start = time.perf_counter()
    model = default_model()
    built = time.perf_counter() - start
    out.append(f"model built and calibrated in {built:.2f} s; temperature {model.temperature:.3f}")
    closed = [_closed_set(model, form, n, out) for form in ("ore", "concentrate")]
    acc = {name: min(c[name] for c in closed) for name in closed[0]}
    auc = _open_set(library, n_out, n_in, out)
    rate = _throughput(model, n_rate, out)
    if args.sensitivity:
        data = library_data()
        for row in data["deposits"]:
            row["approximate"] = False
        verified = library_from_dict(data, "sensitivity: as if verified")
        out.append("\n## SENSITIVITY, not a result: as if every reference figure were verified (no widening)")
        _open_set(verified, n_out, n_in, out)
    _targets(library, acc, auc, rate, out)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
