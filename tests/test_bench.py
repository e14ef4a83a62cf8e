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
    assert cli(["--root", str(project.root), "--sizes", "40", "--repeats", "2", "--county", "200", "--previews", "3", "--video-seconds", "2"]) == 0
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
    assert len(result["unchanged"]["each"]) == 2
    (county,) = data["county"]
    assert county["cases"] == 200 and county["schools"] == 2 and county["exports_bytes"] > 0
    for run in ("cold", "second", "rebuild"):
        assert county[run]["seconds"] > 0 and county[run]["peak_rss_mb"] > 0
    assert len(county["cold"]["each"]) == 2 and len(county["rebuild"]["each"]) == 2
    assert 0 < county["page_bytes_median"] <= county["page_bytes_max"] and county["school_page_bytes_max"] > 0
    assert county["search"]["first_query_bytes"] > 0 and len(county["search"]["queries"]) == 11
    previews = data["previews"]
    assert previews["documents"] == 3 and previews["docx"] + previews["pptx"] == 3
    for run in ("without", "build", "batched", "one_each"):
        assert previews[run]["seconds"] > 0
    assert previews["video_minutes"] > 0 and previews["transcode"]["seconds"] > 0
    whats = {v["what"] for v in data["verdicts"]}
    assert {"每个成果页的 HTML", "全部测量中单个进程峰值内存", "县级 200 份：每个案例页的 HTML"} <= whats
    assert any(w.startswith("新学校首次构建：Office 预览每份用时") for w in whats)
    assert "| 公开案例 | 学校 |" in out and "达标" in out
