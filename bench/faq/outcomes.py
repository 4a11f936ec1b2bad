"""Dump the matcher's outcome for every benchmark question, to prove a refactor changes nothing.

    .venv/bin/python -m bench.faq.outcomes --out /tmp/before.tsv     # before a change
    .venv/bin/python -m bench.faq.outcomes --compare /tmp/before.tsv  # after: exit 1 on any difference

One line per (catalogue, set, question): outcome, topic, score and confidence (rounded to 1e-9, so
summation order does not count as a change) and the offered alternatives, on the real, the
2,000-topic and the 20,000-topic catalogues (issue 14: no speed change may move an outcome).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.faq.run import (  # noqa: E402
    BLINDSET,
    DEVSET,
    HELDOUT2,
    HELDOUT3,
    HELDOUT4,
    LARGE_SIZE,
    SYNTHETIC_SIZE,
    TESTSET,
    load_real,
    read_cases,
    synthetic_catalogue,
)
from knowledge.matcher import Matcher  # noqa: E402


def dump(sizes: Sequence[int], names: Sequence[str] = ("dev", "heldout", "blind")) -> list[str]:
    real = load_real()
    files = {"dev": DEVSET, "heldout": TESTSET, "heldout2": HELDOUT2, "heldout3": HELDOUT3, "heldout4": HELDOUT4,
             "blind": BLINDSET}
    sets = {name: read_cases(files[name]) for name in names}
    lines: list[str] = []
    for size in sizes:
        t0 = time.perf_counter()
        matcher = Matcher(real if size <= len(real) else synthetic_catalogue(real, size))
        print(f"{size} topics: index {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for name, cases in sets.items():
            for c in cases:
                r = matcher.match(c.question)
                alts = ",".join(f"{s}:{v:.9f}" for s, v in r.alternatives)
                lines.append(f"{size}\t{name}\t{c.question}\t{r.outcome}\t{r.topic}\t{r.score:.9f}"
                             f"\t{r.confidence:.9f}\t{alts}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--sizes", default=f"32,{SYNTHETIC_SIZE},{LARGE_SIZE}")
    ap.add_argument("--sets", default="dev,heldout,heldout2,heldout3,heldout4,blind",
                    help="comma-separated: dev, heldout, heldout2, heldout3, heldout4, blind")
    args = ap.parse_args(argv)
    lines = dump([int(s) for s in args.sizes.split(",")], args.sets.split(","))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.compare:
        before = args.compare.read_text(encoding="utf-8").splitlines()
        diff = [(a, b) for a, b in zip(before, lines, strict=False) if a != b]
        if len(before) != len(lines):
            print(f"{len(before)} lines before, {len(lines)} now", file=sys.stderr)
        # Only dev questions are listed; held-out and blind moves are counted, never shown.
        for a, b in [d for d in diff if d[1].split("\t")[1] == "dev"][:20]:
            print(f"- {a}\n+ {b}", file=sys.stderr)
        counts: dict[str, int] = {}
        for _a, b in diff:
            key = " ".join(b.split("\t")[:2])
            counts[key] = counts.get(key, 0) + 1
        for key, n in sorted(counts.items()):
            print(f"  {key}: {n} moved", file=sys.stderr)
        print(f"{len(lines)} outcomes, {len(diff)} differ", file=sys.stderr)
        return 1 if diff or len(before) != len(lines) else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
