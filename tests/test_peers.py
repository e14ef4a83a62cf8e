"""Other schools' catalogs are hostile input: they may name any path, nest forever, or carry the
wrong types. None of it may write or read outside the peer's folder, or stop the build."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from factories import make_project, tree_digest, write_meta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import pipeline
from portal.cli import main
from portal.peers import read_peers
from portal.untrusted import Untrusted, plain_name, read_json

T = "2023-2024-1"
OURS = {"title": "本校的一份成果", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}
GOOD = {"id": "c1", "title": "兄弟学校正常案例", "type": "教学设计", "subject": "数学", "grade": "五年级",
        "competencies": [{"code": "B2"}], "authors": ["钱老师"]}


def peer(project_root: Path, cases: list[Any], school: str = "城南小学", raw: bytes | None = None) -> Path:
    folder = project_root / "resources" / "_peers" / school
    folder.mkdir(parents=True, exist_ok=True)
    data = raw if raw is not None else json.dumps({"schema": 1, "school": school, "cases": cases}, ensure_ascii=False).encode()
    (folder / "catalog.json").write_bytes(data)
    return folder


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` with its content (links not followed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def sources(project_root: Path) -> dict[str, str]:
    """The school's own files (everything but what builds write), to prove none changed."""
    built = (".build", ".portal-cache", "site", "reports")
    return {k: v for k, v in tree_digest(project_root).items() if k.split("/")[0] not in built}


@pytest.fixture
def campus(tmp_path: Path):
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "本校", OURS)
    return project


HOSTILE_NAMES = [
    "../../../../outside.txt",
    "../../../../resources/2023-2024-1/本校/meta.yml",
    "../../../../../../scripts/portal/evil.py",
    "/tmp/absolute-planted.txt",
    "..\\..\\..\\win.txt",
    "C:/win.txt",
    "a/../../b.txt",
    "./hidden/../../x.txt",
    "ok\x00.txt",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_peer_file_name_never_writes_outside_its_page(campus, tmp_path: Path, name: str) -> None:
    folder = peer(campus.root, [{**GOOD, "files": [{"name": name, "url": "r/c1/files/ok.txt"}]}])
    (folder / "r" / "c1" / "files").mkdir(parents=True)
    (folder / "r" / "c1" / "files" / "ok.txt").write_text("兄弟学校的文件", encoding="utf-8")
    project_before = sources(campus.root)
    outside_before = {p.name for p in tmp_path.iterdir()}
    Path("/tmp/absolute-planted.txt").unlink(missing_ok=True)

    outcome = pipeline.build_site(campus)

    assert sources(campus.root) == project_before  # resources/, scripts/, settings: untouched
    assert {p.name for p in tmp_path.iterdir()} == outside_before
    assert not Path("/tmp/absolute-planted.txt").exists()
    site = campus.site.resolve()
    written = [p for p in site.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(site) for p in written)
    # The case is still shown, without the file, and the admin is told which school sent what.
    assert (site / "r" / "peer-城南小学-c1" / "index.html").exists()
    reasons = [str(p) for p in outcome.problems if p.path.startswith("_peers/城南小学")]
    assert any("不安全" in r for r in reasons), reasons


@pytest.mark.parametrize("url", ["../../../resources/2023-2024-1/本校/meta.yml", "/etc/passwd", "r/c1/files/../../../../teachers.csv", "file:///etc/passwd"])
def test_a_peer_url_never_reads_outside_its_folder(campus, url: str) -> None:
    (campus.resources / "teachers.csv").write_text("姓名\n名单专用教师\n", encoding="utf-8")
    peer(campus.root, [{**GOOD, "files": [{"name": "x.txt", "url": url}]}])
    pipeline.build_site(campus)
    published = b"".join(tree(campus.site.resolve()).values())
    assert "名单专用教师".encode() not in published and b"root:x:0" not in published
    assert "兄弟学校正常案例" in (campus.site / "r" / "peer-城南小学-c1" / "index.html").read_text(encoding="utf-8")


def test_links_inside_a_peer_folder_are_not_followed(campus) -> None:
    (campus.resources / "teachers.csv").write_text("姓名\n名单专用教师\n", encoding="utf-8")
    folder = peer(campus.root, [{**GOOD, "files": [{"name": "名单.csv", "url": "r/c1/files/名单.csv"}, {"name": "b.csv", "url": "sub/b.csv"}]}])
    (folder / "r" / "c1" / "files").mkdir(parents=True)
    os.symlink(campus.resources / "teachers.csv", folder / "r" / "c1" / "files" / "名单.csv")
    os.symlink(campus.resources, folder / "sub")
    outcome = pipeline.build_site(campus)
    assert "名单专用教师".encode() not in b"".join(tree(campus.site.resolve()).values())
    assert sum("链接" in p.reason for p in outcome.problems if p.path.startswith("_peers")) == 2


def test_a_peer_folder_that_is_a_link_is_not_read(campus, tmp_path: Path) -> None:
    elsewhere = peer(tmp_path / "elsewhere", [GOOD])
    (campus.resources / "_peers").mkdir()
    os.symlink(elsewhere, campus.resources / "_peers" / "链接学校")
    outcome = pipeline.build_site(campus)
    assert not list((campus.site / "r").glob("peer-*"))
    assert any(p.path == "_peers/链接学校" and "链接" in p.reason for p in outcome.problems)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # nesting that overflows a recursive parser
        json.dumps({"cases": [{"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}).encode(),
        b'{"cases": "not a list"}',
        b'{"cases": ["a string", 1, null, true, {"id": {"x": 1}}]}',
        json.dumps({"cases": [{**GOOD, "files": ["a.txt", 3, None, {"name": 5, "url": []}]}]}).encode(),
        json.dumps({"cases": [{**GOOD, "competencies": "B2"}, {**GOOD, "id": "c2", "authors": "张三", "keywords": {"a": 1}}]}).encode(),
        b"\xff\xfe not utf-8",
        b"",
    ],
)
def test_malformed_peer_catalogs_are_reported_not_fatal(campus, raw: bytes) -> None:
    peer(campus.root, [], raw=raw)
    outcome = pipeline.build_site(campus)
    assert (campus.site / "r").is_dir()  # our own submission was published
    assert any(p.path.startswith("_peers/城南小学") for p in outcome.problems)
    assert main(["--root", str(campus.root), "check"]) == 0  # peers never make our check fail


def test_a_catalog_that_is_a_fifo_does_not_hang(campus) -> None:
    folder = campus.resources / "_peers" / "管道学校"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "catalog.json")
    records, problems = read_peers(campus.resources, __import__("portal.catalog", fromlist=["x"]).load_catalog(campus.catalog))
    assert records == [] and "不是普通文件" in problems[0].reason


def test_plain_name() -> None:
    assert plain_name("教学设计.docx") == "教学设计.docx"
    assert plain_name("r/c1/files/a b.pdf") == "r/c1/files/a b.pdf"
    for bad in HOSTILE_NAMES + [".hidden", "a//b", "x/" * 20 + "y", "名" * 100, 3, None, ["a"], "a\u202eb"]:
        with pytest.raises(Untrusted):
            plain_name(bad)


def test_read_json_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 1000 + "1]")
    with pytest.raises(Untrusted):
        read_json(big, max_bytes=100)
    assert len(read_json(big)) == 1001


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["../x", "/etc/passwd", "B2", "微课", "数学", "一年级", "r/c1/files/ok.txt", "http://example.org/a"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "title", "type", "subject", "grade", "competencies", "code", "authors", "files", "name", "url", "date", "summary", "keywords", "term"]),
        children, max_size=8),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(json_values | st.fixed_dictionaries({k: st.just(v) for k, v in GOOD.items() if k != "id"}, optional={"files": json_values, "id": json_values}), max_size=5))
def test_fuzzed_peer_catalogs_never_raise_and_never_escape(tmp_path_factory, catalog, cases: list[Any]) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    folder = peer(root, cases)
    (folder / "r" / "c1" / "files").mkdir(parents=True)
    (folder / "r" / "c1" / "files" / "ok.txt").write_text("x", encoding="utf-8")
    records, problems = read_peers(root / "resources", catalog)
    for record in records:
        for attachment in record.attachments:
            assert attachment.source.resolve().is_relative_to(folder.resolve())
            assert plain_name(attachment.name) == attachment.name
    assert len({r.id for r in records}) == len(records)  # one page per case: none overwrites another
    assert all(isinstance(p.reason, str) and p.path.startswith("_peers/城南小学") for p in problems)


def test_a_damaged_peer_file_is_reported_with_its_school(campus) -> None:
    folder = peer(campus.root, [{**GOOD, "files": [{"name": "学习单.pdf", "url": "r/c1/files/学习单.pdf"}]}])
    (folder / "r" / "c1" / "files").mkdir(parents=True)
    (folder / "r" / "c1" / "files" / "学习单.pdf").write_bytes(b"%PDF-1.4\nnot really a PDF")
    outcome = pipeline.build_site(campus)
    reasons = [str(p) for p in outcome.problems if p.path.startswith("_peers/城南小学")]
    assert any("学习单.pdf" in r for r in reasons), [str(p) for p in outcome.problems]
