"""Fit the calibrated decision (knowledge/calibration.py) on the DEV set only and write
knowledge/calibration.json.

    .venv/bin/python -m bench.faq.tune            # fit, print the operating point, write the file
    .venv/bin/python -m bench.faq.tune --dry-run  # fit and print only

Two logistic models over the features of the first-ranked topic (score, margin to the second,
coverage, IDF share, evidence mass, name containment, phrase Dice, length, clause flag):

* answer:    label 1 when the first-ranked topic is the expected one (off-topic questions: 0);
  threshold = the lowest probability at which confident answers on dev are still
  >= ANSWER_PRECISION right (answers on off-topic questions count as wrong);
* in_domain: label 1 for in-domain questions; threshold = the highest probability that leaves
  at most DEAD_END_BUDGET of the in-domain dev questions that were not answered as off-topic.

The held-out and blind sets are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.faq.run import DEVSET, load_real, read_cases  # noqa: E402
from knowledge.calibration import (  # noqa: E402
    CALIBRATION_FILE,
    CUE_FEATURES,
    FEATURES,
    Calibration,
    Logistic,
    fit_logistic,
)
from knowledge.matcher import Matcher  # noqa: E402

ANSWER_PRECISION = 0.985  # a margin above the 97 % target: dev is easier than unseen questions
DEAD_END_BUDGET = 0.001  # share of in-domain dev questions allowed to end as "off_topic" (target <= 2 %)
L2 = 1e-3


def _placeholder() -> Calibration:
    """A calibration to build the matcher with before one is fitted (only its features are used)."""
    zero = Logistic(np.zeros(len(FEATURES)), 0.0, 1.1)
    return Calibration(zero, Logistic(np.zeros(len(FEATURES)), 0.0, 0.0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    cases = read_cases(DEVSET)
    matcher = Matcher(load_real(), calibration=_placeholder())
    xs, right, on = [], [], []
    for c in cases:
        _scores, top, x = matcher.evidence(c.question)
        if x is None:
            x = np.zeros(len(FEATURES))
        xs.append(x)
        right.append(bool(c.expected and top and matcher.slugs[top[0]] == c.expected))
        on.append(c.expected is not None)
    x = np.stack(xs)
    y_right = np.asarray(right, dtype=float)
    y_on = np.asarray(on, dtype=float)

    cal = fit(x, y_right, y_on, len(cases), verbose=True)
    # The same without the cue features, for catalogues without utility cues (calibration.py).
    x0 = x.copy()
    x0[:, [FEATURES.index(f) for f in CUE_FEATURES]] = 0.0
    uncued = fit(x0, y_right, y_on, len(cases), verbose=False)
    cal["uncued"] = {"answer": uncued["answer"], "in_domain": uncued["in_domain"]}
    print(json.dumps(cal, indent=1))
    if not args.dry_run:
        CALIBRATION_FILE.write_text(json.dumps(cal, indent=1) + "\n", encoding="utf-8")
        print(f"written {CALIBRATION_FILE}")
    return 0


def fit(x: np.ndarray, y_right: np.ndarray, y_on: np.ndarray, n_cases: int, verbose: bool) -> dict[str, object]:
    """Both models and their thresholds (module docstring) on the feature rows ``x``."""
    a_coef, a_int = fit_logistic(x, y_right, L2)
    d_coef, d_int = fit_logistic(x, y_on, L2)
    pa = 1 / (1 + np.exp(-(x @ a_coef + a_int)))
    pd = 1 / (1 + np.exp(-(x @ d_coef + d_int)))

    # Answer threshold: the lowest that keeps dev precision >= ANSWER_PRECISION.
    a_thr = 1.0
    for t in np.unique(pa)[::-1]:
        sel = pa >= t
        if y_right[sel].mean() >= ANSWER_PRECISION:
            a_thr = float(t)
    a_thr = max(a_thr, 0.5)
    answered = pa >= a_thr
    # In-domain threshold: the highest with at most DEAD_END_BUDGET of in-domain questions off-topic.
    n_on = int(y_on.sum())
    d_thr = 0.0
    for t in np.unique(pd):
        dead = ((pd < t) & ~answered & (y_on == 1)).sum()
        if dead <= DEAD_END_BUDGET * n_on:
            d_thr = float(t)
    cal = {
        "features": list(FEATURES),
        "fitted_on": "bench/faq/dev.tsv",
        "questions": n_cases,
        "answer": Logistic(a_coef, a_int, a_thr).as_dict(),
        "in_domain": Logistic(d_coef, d_int, d_thr).as_dict(),
    }
    off = y_on == 0
    choice = ~answered & (pd >= d_thr)
    if not verbose:
        return cal
    print(f"dev: {n_cases} questions ({n_on} in-domain, {int(off.sum())} off-topic)")
    print(f"answer threshold {a_thr:.3f}: precision {100 * y_right[answered].mean():.1f} %, "
          f"answer rate {100 * (answered & (y_on == 1)).sum() / n_on:.1f} % of in-domain")
    dead = 100 * ((~answered) & ~choice & (y_on == 1)).sum() / n_on
    print(f"in-domain threshold {d_thr:.3f}: in-domain dead ends {dead:.1f} %, "
          f"off-topic answered {100 * (answered & off).sum() / off.sum():.1f} %, "
          f"off-topic given a choice {100 * (choice & off).sum() / off.sum():.1f} %")
    return cal


if __name__ == "__main__":
    raise SystemExit(main())
