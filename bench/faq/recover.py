"""How far a wrong confident answer is from the right one (issue 14, round 6).

A confident answer carries "not what I asked", which offers the runner-ups logged with it
(`core.questions.other_topics`). For every question set: in-domain questions reached (answer or
choice), wrong confident answers, and how many of those have the right topic among the runner-ups.
Aggregate only: no question is printed (held-out sets' errors are never looked at); `test` is held-out.

    .venv/bin/python -m bench.faq.recover
"""

from __future__ import annotations

from bench.faq.run import DEVSET, HELDOUT_SETS, load_real, read_cases
from knowledge.matcher import Matcher


def main() -> int:
    matcher = Matcher(load_real())
    print("| set | in-domain | reached | wrong confident answers | right topic among the runner-ups "
          "| reached within one more tap |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, path in (("dev", DEVSET), *HELDOUT_SETS):
        on = reached = wrong = recovered = 0
        for case in read_cases(path):
            if case.expected is None:
                continue
            on += 1
            r = matcher.match(case.question)
            offered = [slug for slug, _ in r.alternatives]
            if r.outcome == "answer" and r.topic != case.expected:
                wrong += 1
                recovered += case.expected in [s for s in offered if s != r.topic]
            reached += ((r.outcome == "answer" and r.topic == case.expected)
                        or (r.outcome == "choice" and case.expected in offered))
        print(f"| {name} | {on} | {100 * reached / on:.1f} | {wrong} | {recovered} "
              f"| {100 * (reached + recovered) / on:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
