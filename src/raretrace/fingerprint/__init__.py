"""Origin fingerprint: does a material's chemistry agree with its declared origin?

Pure domain code: the reference library is package data (``data/deposits.json``, every figure with its
source); nothing here opens a file, a database or a socket.

* ``check_assay(assay, form, declared)`` -> ``FingerprintResult``: candidates with calibrated probabilities,
  open-set rejection (``unknown``), the declared-origin status with its p-value and likelihood ratio, the
  features used and a plain-language explanation.
* ``parse_assay_csv(text)`` -> ``list[AssaySample]``; ``AssaySample.check(declared)``, or
  ``check_samples(samples, declared)`` for a batch.
* ``python -m raretrace.fingerprint.evaluate``: accuracy, calibration and open-set AUROC on simulated assays.
"""

from raretrace.fingerprint.assay_csv import AssaySample, check_samples, parse_assay_csv
from raretrace.fingerprint.declared import Candidate, FingerprintResult, check_assay
from raretrace.fingerprint.library import Deposit, Library, load_library
from raretrace.fingerprint.model import ALPHA, FingerprintModel, build_model, default_model

__all__ = [
    "ALPHA",
    "AssaySample",
    "Candidate",
    "Deposit",
    "FingerprintModel",
    "FingerprintResult",
    "Library",
    "build_model",
    "check_assay",
    "check_samples",
    "default_model",
    "load_library",
    "parse_assay_csv",
]
