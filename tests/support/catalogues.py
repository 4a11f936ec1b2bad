"""The knowledge tests' fixture catalogues and the shared topic list (../shared/topics.tsv)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "knowledge" / "fixtures"
FIXTURE_SITE = FIXTURES / "site.yaml"
# ONESTOP_SHARED_DIR: the shared folder when the repo is a worktree elsewhere (not next to it).
TOPICS_TSV = Path(os.environ.get("ONESTOP_SHARED_DIR", ROOT / "../shared")) / "topics.tsv"


def shared_slugs() -> list[str]:
    """Slugs listed in ../shared/topics.tsv (skip if the shared folder is not there)."""
    if not TOPICS_TSV.exists():
        pytest.skip(f"{TOPICS_TSV.resolve()} not found (../shared is not checked out next to the repo)")
    with TOPICS_TSV.open(encoding="utf-8", newline="") as fh:
        return [row["slug"] for row in csv.DictReader(fh, delimiter="\t")]
