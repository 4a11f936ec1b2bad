"""Loader and validator: typed model, placeholders, all errors named by file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import Action, Catalogue, Kind, TopicError, Utility, load_catalogue
from knowledge.loader import load_site
from tests.support.catalogues import FIXTURE_SITE, FIXTURES, shared_slugs

SCHEMA_ACTIONS = {"book_visit", "report_fault", "talk_to_person", "complaint", "show_balance", "top_up",
                  "outages", "tariff_calculator", "callback"}


def test_action_enum_is_exactly_the_schema_list() -> None:
    assert {a.value for a in Action} == SCHEMA_ACTIONS


def test_fixture_catalogue_loads_typed(fixture_catalogue: Catalogue) -> None:
    assert fixture_catalogue.slugs == ["gas.leak", "gas.transfer", "water.transfer"]
    topic = fixture_catalogue["gas.transfer"]
    assert topic.kind is Kind.business and topic.utility is Utility.gas
    assert topic.actions == [Action.book_visit, Action.talk_to_person]
    assert topic.notice is not None and [d.id for d in topic.notice.documents] == [
        "owner-id", "property-doc", "agent-id"]
    assert fixture_catalogue.get("nope") is None and "gas.leak" in fixture_catalogue
    assert [t.slug for t in fixture_catalogue.by_utility("gas")] == ["gas.leak", "gas.transfer"]
    assert [t.slug for t in fixture_catalogue.by_utility(Utility.water)] == ["water.transfer"]
    assert len(list(fixture_catalogue)) == len(fixture_catalogue) == 3


def test_placeholders_filled_per_language(fixture_catalogue: Catalogue) -> None:
    notice = fixture_catalogue["gas.transfer"].notice
    assert notice is not None
    assert notice.basis.zh == "依据测试公用事业公司过户流程（R1）。"
    assert notice.basis.en == "Test Utilities transfer procedure (R1)."
    # a plain string value is used for both languages
    assert "0000-1234567" in notice.where.zh and "0000-1234567" in notice.where.en
    assert fixture_catalogue.value("hotline", "en") == "0000-1234567"
    assert fixture_catalogue.value("fee_transfer", "zh_Hans") == "免费"


def test_broken_files_report_every_error_with_file_and_field() -> None:
    with pytest.raises(TopicError) as info:
        load_catalogue(FIXTURES / "broken" / "topics", FIXTURE_SITE)
    message = str(info.value)
    expected = [
        "gas.transfer.yaml: notice.documents[2].en: field required",
        "gas.transfer.yaml: notice.documents[2].id: duplicate document id 'owner-id'",
        "gas.transfer.yaml: notice.not_accepted: must not be empty",
        "gas.transfer.yaml: notice.time_limit.en: unknown placeholder {no_such_value}",
        "gas.transfer.yaml: summary.en: literal braces are not allowed",
        "gas.transfer.yaml: actions[1]: unknown action 'teleport'",
        "gas.transfer.yaml: questions.en: needs at least 3 questions, has 1",
        "gas.transfer.yaml: related[0]: unknown topic 'gas.nowhere'",
        "gas.leak.yaml: slug: 'gas.leaks' does not match the file name 'gas.leak'",
        "gas.leak.yaml: safety: required for emergency topics",
        "gas.leak.yaml: summary.en: empty text",
        "water.quality.yaml: line 6, column 24: invalid YAML",
    ]
    for line in expected:
        assert line in message, f"missing {line!r} in:\n{message}"
    assert len(info.value.errors) == len(expected)


def test_business_topic_without_notice_and_missing_language(tmp_path: Path) -> None:
    src = FIXTURES / "valid" / "topics"
    shutil.copytree(src, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "water.transfer.yaml"
    text = path.read_text(encoding="utf-8").replace("kind: info", "kind: business")
    text = text.replace("title: {zh: 水表过户, en: Transfer a water account}", "title: {zh: 水表过户}")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TopicError) as info:
        load_catalogue(tmp_path, FIXTURE_SITE)
    assert info.value.errors == [
        "water.transfer.yaml: title.en: field required",
        "water.transfer.yaml: notice: required for business topics (the full R1 one-time notice)",
    ]


def test_bad_site_values(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("values:\n  ok: fine\n  half: {zh: 只有中文}\n  empty: ''\n", encoding="utf-8")
    with pytest.raises(TopicError) as info:
        load_site(site)
    assert info.value.errors == [
        "site.yaml: values.half: must be a non-empty string or {zh, en}",
        "site.yaml: values.empty: must be a non-empty string or {zh, en}",
    ]


def test_real_catalogue_has_every_shared_topic(real_catalogue: Catalogue) -> None:
    slugs = shared_slugs()
    assert set(slugs) <= set(real_catalogue.slugs), sorted(set(slugs) - set(real_catalogue.slugs))
    for slug in slugs:
        topic = real_catalogue[slug]
        assert topic.slug == slug
        if topic.kind is Kind.business:
            assert topic.notice is not None
        if topic.kind is Kind.emergency:
            assert topic.safety
        for lang in ("zh", "en"):
            chunks = real_catalogue.render(topic, lang)
            assert chunks and all(len(c) <= 3500 for c in chunks)
            assert "{" not in "".join(chunks)  # every placeholder was filled
