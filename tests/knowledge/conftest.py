"""Fixtures of the knowledge tests: small fixture catalogues and the real catalogue.

The real catalogue is loaded once per session. A missing or invalid topic file fails the tests
that need it (the content is part of the product), naming the slugs or the file and field.
"""

from __future__ import annotations

import pytest

from knowledge import Catalogue, Matcher, TopicError, load_catalogue
from tests.support.catalogues import FIXTURE_SITE, FIXTURES, ROOT, TOPICS_TSV, shared_slugs

__all__ = ["FIXTURES", "FIXTURE_SITE", "ROOT", "TOPICS_TSV", "shared_slugs"]  # helpers: tests.support.catalogues


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
