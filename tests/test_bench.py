"""`make bench` works end to end on a small corpus (figures are printed, never asserted: CI
machines drift; the point is that the benchmark itself keeps running)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import make_project

from portal_tools.bench import cli

pytestmark = pytest.mark.browser


def test_bench_measures_a_small_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "school")
    assert cli(["--root", str(project.root), "--sizes", "40", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "| 40 |" in out and "每个成果页的 HTML" in out
    data = json.loads((project.reports / "bench.json").read_text(encoding="utf-8"))
    (result,) = data["results"]
    assert result["size"] == 40
    for run in ("cold", "second", "rebuild", "material_cold", "material_rebuild"):
        assert result[run]["seconds"] > 0 and result[run]["peak_rss_mb"] > 0
    for run in ("cold", "rebuild", "material_cold", "material_rebuild"):
        assert len(result[run]["each"]) == 2 and min(result[run]["each"]) <= result[run]["seconds"] <= max(result[run]["each"])
    assert 0 < result["page_bytes_median"] <= result["page_bytes_max"]
    assert result["search"]["first_query_bytes"] > result["search"]["later_query_bytes_max"] > 0
    assert len(result["search"]["queries"]) == 11
    assert len(result["arrival"]) == 2 and all(0 < seconds < 600 for seconds in result["arrival"])
    assert {v["what"] for v in data["verdicts"]} >= {"每个成果页的 HTML", "单个进程峰值内存（含搜索索引）"}
