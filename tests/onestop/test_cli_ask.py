"""`onestop ask "问题" [--lang zh|en] [--json]` (issue 3 item 6)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from onestop.cli import app

pytestmark = pytest.mark.usefixtures("shared_knowledge")


def test_ask_json_prints_one_object() -> None:
    result = CliRunner().invoke(app, ["ask", "二手房燃气怎么过户", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"outcome", "topic", "score", "confidence", "alternatives", "small_talk"}
    assert (data["outcome"], data["topic"]) == ("answer", "gas.transfer") and data["score"] > 0


def test_ask_text_and_bad_language() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "how do I pay my water bill", "--lang", "en"])
    assert result.exit_code == 0 and "outcome:" in result.output and "topic:" in result.output
    assert runner.invoke(app, ["ask", "x", "--lang", "fr"]).exit_code != 0


def test_ask_json_for_ambiguous_and_off_topic_questions() -> None:
    runner = CliRunner()
    off = json.loads(runner.invoke(app, ["ask", "讲个笑话", "--json"]).output)
    assert off["outcome"] == "off_topic" and off["topic"] is None and off["alternatives"] == []
    assert isinstance(off["score"], float | int)
    vague = json.loads(runner.invoke(app, ["ask", "过户", "--json"]).output)
    assert vague["outcome"] == "choice" and len(vague["alternatives"]) >= 2
    assert all(set(a) == {"topic", "score"} for a in vague["alternatives"])
    slugs = {a["topic"] for a in vague["alternatives"]}
    assert {"gas.transfer", "water.transfer"} <= slugs and vague["topic"] in slugs
