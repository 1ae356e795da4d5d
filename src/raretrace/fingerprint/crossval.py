"""Cross-validated accuracy and rejection rates of a library built from samples, on its own samples.

* leave-one-sample-out: each sample in turn is left out, the library rebuilt from the others (every figure
  refitted, the model re-simulated and recalibrated), and the sample scored by that model;
* leave-one-lab-out: each lab's samples in turn are left out together, so the figures say how the library
  does on a lab it has never seen (its bias included). A deposit only that lab measured is then out of the
  library, and its samples count in "rejected" (they should be) rather than in accuracy.

Reported per fold kind: top-1 accuracy, the share of in-library samples wrongly rejected as unknown, the
share of truthful declarations (the sample's own deposit) called inconsistent (also per deposit), and for
leave-one-lab-out the share of out-of-library samples rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from raretrace.fingerprint.build import build_library
from raretrace.fingerprint.conformal import calibrated_library
from raretrace.fingerprint.declared import check_assay
from raretrace.fingerprint.library import library_from_dict
from raretrace.fingerprint.model import build_model
from raretrace.fingerprint.samples import ReferenceSample


@dataclass(frozen=True)
class FoldFigures:
    kind: str  # leave-one-sample-out | leave-one-lab-out
    folds: int
    scored: int  # samples whose deposit stayed in the library
    top1: float
    wrongly_rejected: float
    truthful_inconsistent: float
    outside: int  # samples whose deposit left the library with them
    outside_rejected: float
    #: truthful declarations called inconsistent, per deposit (a guarantee per deposit is the question)
    truthful_by_deposit: dict[str, float] = field(default_factory=dict)


def _score(
    kind: str,
    samples: Sequence[ReferenceSample],
    folds: Sequence[Sequence[int]],
    progress: Callable[[int, int], None] | None,
    calibrate: bool = True,
) -> FoldFigures:
    top, rejected, truthful, out_rejected = [], [], [], []
    by_deposit: dict[str, list[bool]] = {}
    for f, held in enumerate(folds):
        if progress:
            progress(f + 1, len(folds))
        held_set = set(held)
        train = [s for i, s in enumerate(samples) if i not in held_set]
        kept = {s.deposit for s in train}
        counts = {d: sum(s.deposit == d for s in train) for d in kept}
        train = [s for s in train if counts[s.deposit] >= 3]  # a deposit needs 3 samples to be fitted
        # as ``library build`` makes it: the threshold calibrated on the fold's own samples (nested)
        if calibrate:
            data = calibrated_library(train, "fold", b"fold", "fold")[0]
        else:
            data = build_library(train, "fold", b"fold", "fold")
        model = build_model(library_from_dict(data, f"{kind} fold {f + 1}"))
        ids = set(model.library.ids())
        for i in held:
            s = samples[i]
            inside = s.deposit in ids
            result = check_assay(
                s.assay.assay(), s.assay.form, s.deposit if inside else None,
                detection_limits=s.assay.detection_limits, uncertainties=s.assay.uncertainties,
                model=model, descriptors=False,
            )  # fmt: skip
            if inside:
                top.append(bool(result.candidates) and result.candidates[0].deposit == s.deposit)
                rejected.append(result.unknown)
                truthful.append(result.status == "inconsistent")
                by_deposit.setdefault(s.deposit, []).append(truthful[-1])
            else:
                out_rejected.append(result.unknown)

    def mean(v: list[bool]) -> float:
        return float(np.mean(v)) if v else float("nan")

    return FoldFigures(
        kind,
        len(folds),
        len(top),
        mean(top),
        mean(rejected),
        mean(truthful),
        len(out_rejected),
        mean(out_rejected),
        {d: mean(v) for d, v in sorted(by_deposit.items())},
    )


def cross_validate(
    samples: Sequence[ReferenceSample],
    progress: Callable[[int, int], None] | None = None,
    calibrate: bool = True,
) -> tuple[FoldFigures, FoldFigures]:
    """(leave-one-sample-out, leave-one-lab-out) figures of the library the samples build; with
    ``calibrate`` each fold's threshold is calibrated on that fold's samples, as ``library build`` does."""
    loso = [[i] for i in range(len(samples))]
    labs = sorted({s.lab for s in samples})
    lolo = [[i for i, s in enumerate(samples) if s.lab == lab] for lab in labs]
    return _score("leave-one-sample-out", samples, loso, progress, calibrate), _score(
        "leave-one-lab-out", samples, lolo, progress, calibrate
    )


__all__ = ["FoldFigures", "cross_validate"]
