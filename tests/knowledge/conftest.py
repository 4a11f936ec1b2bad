"""Fixtures of the knowledge tests: small fixture catalogues and the real catalogue.

The real catalogue is loaded once per session. A missing or invalid topic file fails the tests
that need it (the content is part of the product), naming the slugs or the file and field.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from knowledge import Catalogue, Matcher, TopicError, load_catalogue

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_SITE = FIXTURES / "site.yaml"
# ONESTOP_SHARED_DIR: the shared folder when the repo is a worktree elsewhere (not next to it).
TOPICS_TSV = Path(os.environ.get("ONESTOP_SHARED_DIR", ROOT / "../shared")) / "topics.tsv"


def shared_slugs() -> list[str]:
    """Slugs listed in ../shared/topics.tsv (skip if the shared folder is not there)."""
    if not TOPICS_TSV.exists():
        pytest.skip(f"{TOPICS_TSV.resolve()} not found (../shared is not checked out next to the repo)")
    with TOPICS_TSV.open(encoding="utf-8", newline="") as fh:
        return [row["slug"] for row in csv.DictReader(fh, delimiter="\t")]


@pytest.fixture(scope="session")
def fixture_catalogue() -> Catalogue:
    return load_catalogue(FIXTURES / "valid" / "topics", FIXTURE_SITE)


@pytest.fixture(scope="session")
def real_catalogue() -> Catalogue:
    slugs = shared_slugs()
    topics_dir = ROOT / "knowledge" / "topics"
    missing = [s for s in slugs if not (topics_dir / f"{s}.yaml").exists()]
    if missing:
        pytest.fail(f"knowledge/topics has no file for {len(missing)} slug(s) of topics.tsv: {', '.join(missing)}")
    try:
        return load_catalogue()
    except TopicError as exc:  # a real failure, not a reason to skip
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def matcher(real_catalogue: Catalogue) -> Matcher:
    return Matcher(real_catalogue)
