"""Grid search of the matcher's mixing weights and thresholds on the DEV set only.

    .venv/bin/python -m bench.faq.tune

Prints the best settings; copy them into knowledge/matcher.py by hand (nothing is written).
The held-out test set (testset.tsv) is deliberately not read here.

Decision utility per question (what the grid maximises):
  on-topic : confident right answer +1, buttons containing the right topic +0.5,
             other buttons 0, no_match -0.5 (a real question left unanswered), confident wrong answer -2
  off-topic: no_match +1, buttons +0.25 (noise, but harmless), confident answer -2
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.faq.run import DEVSET, load_real, read_cases  # noqa: E402
from knowledge import matcher as M  # noqa: E402


def main() -> int:
    cat = load_real()
    cases = read_cases(DEVSET)
    expected = [c.expected for c in cases]
    is_off = np.asarray([e is None for e in expected])
    n_on = int((~is_off).sum())
    ans, mar, amb = (g.ravel()[:, None] for g in np.meshgrid(
        np.arange(30, 80, 3.0), np.arange(0, 16, 3.0), np.arange(20, 60, 3.0), indexing="ij"))
    valid = (amb <= ans).ravel()
    gates = list(itertools.product((0.0, 0.5, 0.55, 0.6, 0.7), (0.0, 0.6, 0.9, 1.2)))
    results = []
    for w_char, cover_char in ((0.25, 0.3), (0.6, 0.5)):
        M.W_CHAR, M.COVER_CHAR = w_char, cover_char
        m = M.Matcher(cat)
        exp_idx = np.asarray([m.slugs.index(e) if e else -1 for e in expected])
        sig = [m.signals(c.question) for c in cases]
        stacked = {k: np.stack([s[k] for s in sig]) for k in sig[0]}

        def evaluate(w: tuple[float, ...], exp_idx: np.ndarray = exp_idx,
                     stacked: dict[str, np.ndarray] = stacked) -> tuple[float, tuple, int]:
            a, b, c, d = w
            sc = 100.0 * stacked["util"] * (a * stacked["cov"] + b * stacked["idf"] + c * stacked["dice"]
                                             + d * stacked["name"])
            order = np.argsort(-sc, axis=1)[:, :3]
            rows = np.arange(len(sc))
            top, second = sc[rows, order[:, 0]], sc[rows, order[:, 1]]
            right = order[:, 0] == exp_idx
            exp_score = np.where(is_off, -1.0, sc[rows, np.maximum(exp_idx, 0)])
            exp_in3 = (order == exp_idx[:, None]).any(axis=1)
            cov_b = stacked["cov"][rows, order[:, 0]]
            mass_b = stacked["mass"][rows, order[:, 0]]
            name_b = stacked["name"][rows, order[:, 0]]
            below = top[None, :] < amb
            in_alts = exp_in3[None, :] & (exp_score[None, :] >= amb) & \
                (exp_score[None, :] >= (top - M.ALTERNATIVE_SPREAD)[None, :])
            best = (-1e9, (), 0)
            for cmin, emin in gates:
                gate = (cov_b >= cmin) & ((mass_b >= emin) | (name_b >= M.ANSWER_FULL_NAME))
                confident = ~below & (top[None, :] >= ans) & ((top - second)[None, :] >= mar) & gate[None, :]
                buttons = ~below & ~confident
                u = np.where(is_off[None, :],
                             below * 1.0 + buttons * 0.25 - confident * 2.0,
                             confident * np.where(right, 1.0, -2.0)[None, :] + (buttons & in_alts) * 0.5
                             - below * 0.5)
                total = np.where(valid, u.sum(axis=1), -1e9)
                g = int(np.argmax(total))
                if total[g] > best[0]:
                    best = (float(total[g]), (ans[g, 0], mar[g, 0], amb[g, 0], cmin, emin), 0)
            return best[0], best[1], int(right[~is_off].sum())

        grid = [w for w in itertools.product(np.arange(0, 1.01, 0.1), repeat=3) if sum(w) <= 1.0001]
        for a, b, c in grid:
            w = (round(a, 2), round(b, 2), round(c, 2), round(max(0.0, 1.0 - a - b - c), 2))
            total, th, top1 = evaluate(w)
            results.append((total, top1, w_char, cover_char, w, th))
        cur = (M.MIX_COVERAGE, M.MIX_IDF, M.MIX_DICE, M.MIX_NAME)
        total, th, top1 = evaluate(cur)
        print(f"W_CHAR={w_char} COVER_CHAR={cover_char} current mix {cur}: utility={total:.1f} "
              f"top-1={top1}/{n_on} thresholds={th}", flush=True)
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    print(f"best by decision utility (max {len(cases)}); thresholds = "
          "(ANSWER_SCORE, ANSWER_MARGIN, AMBIGUOUS_SCORE, ANSWER_MIN_COVERAGE, ANSWER_MIN_EVIDENCE):")
    for total, top1, w_char, cover_char, w, th in results[:15]:
        print(f"  utility={total:.1f} top-1={top1}/{n_on} W_CHAR={w_char} COVER_CHAR={cover_char} "
              f"cov/idf/dice/name={w} thresholds={tuple(float(x) for x in th)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
