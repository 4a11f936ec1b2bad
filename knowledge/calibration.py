"""Calibrated decision: answer / choice / off_topic from the matcher's evidence (issue 14).

Two small logistic models over the same features of the best-ranked topic replace fixed score
thresholds:

* ``answer``    P(the first-ranked topic is the right one) — answer at once when high enough;
* ``in_domain`` P(the question is about a topic of the catalogue at all) — below its threshold
  the question is off-topic ("I did not understand" + the guide menu); otherwise the resident
  gets a choice of the first two or three topics.

Coefficients and thresholds are data (knowledge/calibration.json), fitted on the development set
only by ``bench/faq/tune.py`` and never edited by hand. Pure numpy; no I/O besides reading the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"

# Order of the feature vector; the JSON file names them too so a mismatch is caught at load.
FEATURES: tuple[str, ...] = ("score", "margin", "cov", "idf", "mass", "name", "dice", "length", "clause", "known",
                            "body", "margin_log", "unnamed")


def feature_vector(score: float, second: float, sig: dict[str, float], units: int, clause: bool) -> np.ndarray:
    """Features of the best topic, all roughly in 0..1 so one L2 penalty suits them all."""
    return np.array([
        score / 100.0,
        max(0.0, score - second) / 100.0,
        sig["cov"],
        sig["idf"],
        min(sig["mass"], 3.0) / 3.0,  # evidence beyond ~3 topic-unique words adds nothing
        min(sig["name"], 1.0),
        sig["dice"],
        math.log1p(units) / 4.0,  # long rambling questions explain less of themselves
        1.0 if clause else 0.0,  # the best evidence came from one clause of a long message
        sig["known"],  # share of the question any topic explains word by word
        sig["body"],  # share of the question's words the topic's answer text uses
        # The first points of lead count most: 2 points ahead is a near tie, 30 or 40 both clear.
        math.log1p(50.0 * max(0.0, score - second) / 100.0) / math.log1p(50.0),
        sig.get("unnamed", 0.0),  # the topic's utility (燃气, 水, electricity) is not named
    ])


@dataclass(frozen=True)
class Logistic:
    coef: np.ndarray
    intercept: float
    threshold: float

    def prob(self, x: np.ndarray) -> float:
        z = float(self.intercept + x @ self.coef)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def as_dict(self) -> dict[str, object]:
        return {"coef": [round(float(c), 6) for c in self.coef], "intercept": round(self.intercept, 6),
                "threshold": round(self.threshold, 6)}


# Features that only mean something when the catalogue's topics tell utilities apart (cue words
# learnt from the topics, knowledge/index.py). A catalogue without any cue (the synthetic
# benchmark catalogues, whose distractors have random utilities) uses the models fitted without
# them (``uncued``): reading "no cue" as "utility not named" would make every answer less sure.
CUE_FEATURES: tuple[str, ...] = ("unnamed",)


@dataclass(frozen=True)
class Calibration:
    answer: Logistic
    in_domain: Logistic
    uncued_models: tuple[Logistic, Logistic] | None = None

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: features {data['features']} do not match {FEATURES}; re-run bench/faq/tune.py")

        def model(d: dict[str, Any]) -> Logistic:
            return Logistic(np.asarray(d["coef"], dtype=np.float64), float(d["intercept"]), float(d["threshold"]))

        uncued = data.get("uncued")
        return cls(model(data["answer"]), model(data["in_domain"]),
                   (model(uncued["answer"]), model(uncued["in_domain"])) if uncued else None)

    def uncued(self) -> Calibration:
        """The decision for a catalogue without utility cues (the same one if none was fitted)."""
        if self.uncued_models is None:
            return self
        return Calibration(*self.uncued_models)

    def decide(self, x: np.ndarray) -> tuple[str, float]:
        """("answer" | "choice" | "off_topic", P(answer is right))."""
        p = self.answer.prob(x)
        if p >= self.answer.threshold:
            return "answer", p
        if self.in_domain.prob(x) < self.in_domain.threshold:
            return "off_topic", p
        return "choice", p


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (a few hundred rows: exact and instant)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2 * n)
    reg[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])
