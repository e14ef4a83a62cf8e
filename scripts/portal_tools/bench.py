"""Benchmarks (`make bench`): what admins and teachers feel, measured on generated corpora.

- A school of N resources: cold build, the second build, a build with nothing changed, rebuild
  after one new submission, peak memory of every process, page weight, search cost in a real
  browser, and how soon `make serve` publishes a new submission; the same corpus built by plain
  Material for MkDocs is the yardstick, since absolute times on shared machines drift.
- A county of N public cases from distinct school exports (county_corpus.py): cold build, rebuild
  after one school's new export, peak memory, page weight and search.
- A new school's first build with N Office documents: what the batched LibreOffice previews cost
  per document, against the same documents converted one LibreOffice start each in the same run;
  and video re-encoding per minute of video (previews.py).

Figures go to the terminal as a table with the targets (达标/未达标) and to `reports/bench.json`.
Nothing here is a test: timings are printed, never asserted.
"""

from __future__ import annotations

import compileall
import functools
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portal.catalog import load_catalog

from . import previews as office
from .corpus import CorpusSpec, write_corpus
from .county_corpus import CountySpec, re_export, write_county

QUERIES = ["钟表", "圆的面积", "面积", "几何画板", "有余数的除法", "核心素养", "课堂观察", "教学", "浮力 控制变量", "编程", "的"]
TARGETS = {
    # a school (1,000 and 10,000 resources)
    "cold_ratio": 1.0,  # cold build / plain Material's cold build, at 1,000 and 10,000
    "rebuild_10000_s": 2.0,  # after one new submission
    "arrival_s": 5.0,  # make serve: a new submission's page served, at 1,000 and 10,000
    "peak_rss_10000_mb": 1024.0,
    "page_kb_max": 40.0,
    # everything measured: any single process
    "peak_rss_mb": 2048.0,
    # search in a fresh browser (a school, and the county at 100,000)
    "first_query_kb": 350.0,
    "later_query_kb": 100.0,
    "first_results_ms": 300.0,
    # a county built from school exports
    "county_cold_s": {25000: 180.0, 100000: 600.0},
    "county_rebuild_25000_s": 20.0,  # after one school's new export
    # a new school's first build: Office previews
    "preview_s_per_doc": 0.3,
    "preview_vs_one_each": 1 / 3,  # ours ÷ one LibreOffice start per document
}
JUDGED_SIZES = (1000, 10000)  # school sizes the targets speak of; others are reported only


@dataclass
class Run:
    seconds: float  # the median of the repetitions
    peak_rss_mb: float  # the largest single process of the command (children included), over all repetitions
    each: list[float] = field(default_factory=list)  # every repetition's seconds, in order
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average as each repetition started
    phases: list[str] = field(default_factory=list)  # each repetition's "各阶段用时" line, when the command prints one


def median_run(runs: list[Run]) -> Run:
    """Shared machines have bursts of slow disk and stolen CPU: the median of a few runs says
    more than any one of them."""
    return Run(round(statistics.median(r.seconds for r in runs), 2), max(r.peak_rss_mb for r in runs), [r.seconds for r in runs],
               [x for r in runs for x in r.load], [x for r in runs for x in r.phases])


@dataclass
class SizeResult:
    size: int
    cold: Run
    second: Run  # the first rebuild fills the second buffer of the double-buffered site
    rebuild: Run  # after one new submission
    page_bytes_median: int
    page_bytes_max: int
    site_bytes_without_media: int
    search_index_bytes: int
    material_cold: Run | None = None
    material_rebuild: Run | None = None
    search: dict[str, Any] = field(default_factory=dict)
    arrival: list[float] = field(default_factory=list)  # seconds from a new file's last write to its page served by make serve
    unchanged: Run | None = None  # builds with nothing changed, after the second

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in (self.cold, self.second, self.rebuild, self.unchanged) if r)


@dataclass
class CountyResult:
    cases: int  # public cases over all schools
    schools: int
    exports_bytes: int  # the zips in resources/_schools/, as the schools uploaded them
    generate_seconds: float  # writing the exports (not a build)
    cold: Run
    second: Run
    rebuild: Run  # after one school's new export replaced its old one
    page_bytes_median: int
    page_bytes_max: int
    school_page_bytes_max: int  # county/schools/<school>/: every public case of the school on one page
    site_bytes_without_media: int
    search_index_bytes: int
    search: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_rss_mb(self) -> float:
        return max(self.cold.peak_rss_mb, self.second.peak_rss_mb, self.rebuild.peak_rss_mb)


@dataclass
class PreviewResult:
    documents: int
    docx: int
    pptx: int
    without: Run  # the school's cold build with previews off
    build: Run  # the same cold build with previews on (batched LibreOffice, then page images)
    batched: Run  # the conversion alone, batched as the build does it
    one_each: Run  # the conversion with one LibreOffice start per document, one per core at a time
    video_minutes: float = 0.0
    transcode: Run | None = None

    @property
    def per_document(self) -> float:
        """What previews add to a first build, per Office document."""
        return max(0.0, self.build.seconds - self.without.seconds) / self.documents

    @property
    def peak_rss_mb(self) -> float:
        return max(self.without.peak_rss_mb, self.build.peak_rss_mb)


PHASES = "各阶段用时"


def _measure(command: list[str], cwd: Path, env: dict[str, str] | None) -> tuple[float, float, int, str, str]:
    """Output goes to a file, not a pipe: a command that says much would otherwise stop, its
    pipe full, while this process waits for it to end."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    phases = next((line.strip() for line in reversed(text.splitlines()) if line.startswith(PHASES)), "")
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), text[-2000:], phases


@functools.cache
def _launcher() -> ProcessPoolExecutor:
    """A small process that starts the measured commands. Linux counts the memory of the process
    that starts a program into the program's peak RSS, and this benchmark holds a whole corpus:
    started from here, a build's figure would be the benchmark's size. The launcher comes from a
    fresh interpreter (forkserver) and stays small."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))


def run_measured(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS: wait4 reports the largest of the process and its waited-for children."""
    load = round(os.getloadavg()[0], 2)
    seconds, peak, code, error, phases = _launcher().submit(_measure, command, cwd, env).result()
    if code != 0:
        raise RuntimeError(f"命令失败：{' '.join(command)}\n{error}")
    return Run(round(seconds, 2), round(peak, 1), [round(seconds, 2)], [load], [phases] if phases else [])


def make_school(repo: Path, root: Path) -> None:
    """A copy of the school repository's configuration with no submissions, previews off."""
    root.mkdir(parents=True)
    for folder in ("catalog", "content", "overrides"):
        shutil.copytree(repo / folder, root / folder)
    shutil.copytree(repo / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(root / "scripts", quiet=1)  # as `make setup` does in a school's checkout
    config = (repo / "mkdocs.yml").read_text(encoding="utf-8")
    # LibreOffice previews cost about a second per document, once (cached by content): a county's
    # 1,000 documents would be measured, not the portal. They are left out here.
    (root / "mkdocs.yml").write_text(config.replace("office_previews: true", "office_previews: false"), encoding="utf-8")
    (root / "resources").mkdir()


def one_more(resources: Path, number: int = 1) -> None:
    """One new submission, as a teacher hands it in at the end of a term."""
    folder = resources / "2023-2024-2"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"title": f"新提交的一份成果：认识钟表（{number}）", "type": "教学反思", "subject": "数学", "grade": "一年级",
            "competencies": ["B2"], "authors": ["新老师"], "date": "2024-06-30"}
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    (folder / f"bench-new-{number}.md").write_text(f"---\n{header}---\n\n课后反思：钟表教学的新尝试。\n", encoding="utf-8")


def site_figures(site: Path) -> tuple[int, int, int, int]:
    pages = [p.stat().st_size for p in (site / "r").glob("*/index.html")]
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and "/files/" not in p.as_posix() and "/media/" not in p.as_posix())
    index = sum(p.stat().st_size for p in (site / "search").rglob("*") if p.is_file())
    return int(statistics.median(pages)), max(pages), total, index


# -- plain Material for MkDocs, the yardstick ----------------------------------------------------


def material_project(school: Path, root: Path) -> None:
    """Every resource a Markdown page (title, metadata, text), out of the nav, built-in search on:
    Material's search segments Chinese with jieba, installed with the test dependencies, as a
    school wanting Chinese search would set it up."""
    from portal.extract import Cache, Tools, extract
    from portal.index import body_text, metadata_text
    from portal.intake import scan

    catalog = load_catalog(school / "catalog")
    intake = scan(school / "resources", catalog)
    extracted, _ = extract(intake.records, Cache(school / ".portal-cache"), catalog, Tools.detect(previews=False))
    docs = root / "docs"
    (docs / "r").mkdir(parents=True)
    (docs / "index.md").write_text("# 首页\n", encoding="utf-8")
    for record in intake.records:
        text = f"# {record.title}\n\n{metadata_text(record, catalog)}\n\n{body_text(extracted[record.id])}\n"
        (docs / "r" / f"{record.id}.md").write_text(text, encoding="utf-8")
    config = {"site_name": "Material", "theme": {"name": "material", "language": "zh", "font": False},
              "plugins": ["search"], "nav": [{"首页": "index.md"}], "not_in_nav": "/r/"}
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


# -- search in a real browser --------------------------------------------------------------------


# Files the page asked for once the results were shown (search.js notes the moment in data-results).
STARTED_AFTER_RESULTS = """() => {
  const shown = parseFloat(document.querySelector('[data-portal-search]').getAttribute('data-results'));
  return performance.getEntriesByType('resource').filter(e => e.startTime >= shown).map(e => e.name);
}"""


def measure_search(site: Path, queries: list[str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from portal.serve import make_server

    server = make_server(site, "127.0.0.1", 0)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/search/"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
    results: list[dict[str, Any]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=args)
            page = browser.new_context().new_page()
            sizes: list[tuple[str, int]] = []
            page.on("response", lambda r: sizes.append((r.url, len(r.body()) if r.ok else 0)))
            page.goto(url)
            page.wait_for_selector("[data-portal-search][data-ready]")
            page_load = sum(size for _, size in sizes)
            search_data = sum(size for u, size in sizes if "/search/" in u and not u.endswith("/search/"))
            for number, query in enumerate(queries):
                sizes.clear()
                started = time.perf_counter()
                page.evaluate("q => { const i = document.querySelector('.portal-search__form input[name=q]'); i.value = q; i.form.requestSubmit(); }", query)
                # The results are on the page (data-results); each document's facet values
                # (columns.json.gz) load after that, once per visit, and the facets are drawn (data-ready).
                page.wait_for_selector("[data-portal-search][data-results]")
                elapsed = (time.perf_counter() - started) * 1000
                page.wait_for_selector("[data-portal-search][data-ready]")
                page.wait_for_load_state("networkidle")
                late = set(page.evaluate(STARTED_AFTER_RESULTS))  # asked for once the results were shown
                transferred = sum(size for u, size in sizes if u not in late)
                with_facets = sum(size for _, size in sizes)
                count = page.locator(".portal-search__count").inner_text()
                if number == 0:
                    transferred += page_load
                    with_facets += page_load
                results.append({"query": query, "bytes": transferred, "bytes_with_facets": with_facets, "ms": round(elapsed, 1), "result": count})
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    later = results[1:]
    return {
        "page_load_bytes": page_load,
        "first_query_bytes": results[0]["bytes"],  # before the first results are shown
        "first_query_bytes_with_facets": results[0]["bytes_with_facets"],  # and the facet columns loaded after them
        "first_query_search_data_bytes": search_data + results[0]["bytes"] - page_load,
        "later_query_bytes_median": int(statistics.median(r["bytes"] for r in later)) if later else 0,
        "later_query_bytes_max": max((r["bytes_with_facets"] for r in later), default=0),
        "first_results_ms_median": round(statistics.median(r["ms"] for r in results), 1),
        "first_results_ms_max": max(r["ms"] for r in results),
        "queries": results,
    }


# -- the whole benchmark -------------------------------------------------------------------------


def _forget_inputs(root: Path) -> None:
    """The second build follows the last cold one with the same inputs: without this, `portal
    site` would see nothing changed and stop (unchanged.py) instead of filling the site's second
    copy, and the first rebuild measured would do that."""
    from portal.project import Project
    from portal.unchanged import forget

    forget(Project(root))


def wipe(school: Path) -> None:
    """Everything a build leaves behind: the next build is cold (no cache, no earlier site)."""
    for name in (".build", ".portal-cache", "site", "reports"):
        path = school / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def publish_on_arrival(school: Path, env: dict[str, str], repeats: int) -> list[float]:
    """`portal serve` (as `make serve` runs it) watching the school; a submission is written, and
    the time from its last write until its page is served is measured, `repeats` times."""
    import socket
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "portal", "--root", str(school), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seconds: list[float] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "资源平台已启动" in line:
                break
        else:
            raise RuntimeError("make serve 没有启动")
        for number in range(repeats):
            one_more(school / "resources", 100 + number)
            written = time.perf_counter()
            url = f"http://127.0.0.1:{port}/r/{quote(f'2023-2024-2-bench-new-{100 + number}')}/"
            while time.perf_counter() - written < 600:
                try:
                    with urllib.request.urlopen(url, timeout=5):
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.05)
            seconds.append(round(time.perf_counter() - written, 2))
    finally:
        server.send_signal(2)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    return seconds


def bench_size(repo: Path, size: int, work: Path, reference: bool, search: bool, repeats: int = 3) -> SizeResult:
    """Our builds and plain Material's take turns, so a slow spell of the machine hits both."""
    school = work / f"school-{size}"
    make_school(repo, school)
    catalog = load_catalog(school / "catalog")
    print(f"[{size}] 生成 {size} 份模拟成果……", flush=True)
    write_corpus(school / "resources", catalog, CorpusSpec(size=size, docx_every=10, pdf_every=25, video_every=20))
    env = {**os.environ, "PYTHONPATH": str(school / "scripts")}
    ours = [sys.executable, "-m", "portal", "--root", str(school), "site"]
    plain = work / f"material-{size}"
    material = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(plain / "mkdocs.yml")]
    if reference:
        material_project(school, plain)  # every resource a Markdown page with its text

    print(f"[{size}] 冷启动构建（无缓存）{'，与原版 Material 轮流' if reference else ''}，{repeats} 次取中位数……", flush=True)
    colds, material_colds = [], []
    for _ in range(repeats):
        wipe(school)
        colds.append(run_measured(ours, school, env))
        if reference:
            shutil.rmtree(plain / "site", ignore_errors=True)
            material_colds.append(run_measured(material, plain))
    _forget_inputs(school)
    second = run_measured(ours, school, env)
    print(f"[{size}] 无改动时再次构建，{repeats} 次……", flush=True)
    unchanged = median_run([run_measured(ours, school, env) for _ in range(repeats)])

    print(f"[{size}] 新增一份后重新构建，{repeats} 次（每次新增一份）……", flush=True)
    rebuilds, material_rebuilds = [], []
    for number in range(1, repeats + 1):
        one_more(school / "resources", number)
        rebuilds.append(run_measured(ours, school, env))
        if reference:
            (plain / "docs" / "r" / f"bench-new-{number}.md").write_text(f"# 新提交的一份成果（{number}）\n\n课后反思。\n", encoding="utf-8")
            material_rebuilds.append(run_measured(material, plain))

    median, largest, total, index = site_figures(school / "site")
    result = SizeResult(size, median_run(colds), second, median_run(rebuilds), median, largest, total, index, unchanged=unchanged)
    if reference:
        result.material_cold, result.material_rebuild = median_run(material_colds), median_run(material_rebuilds)
    if search:
        print(f"[{size}] 浏览器中测量搜索……", flush=True)
        result.search = measure_search(school / "site", QUERIES)
    print(f"[{size}] make serve 自动更新：新成果放入后多久能打开，{repeats} 次……", flush=True)
    result.arrival = publish_on_arrival(school, env, repeats)
    return result


def bench_county(repo: Path, cases: int, work: Path, search: bool, repeats: int = 3) -> CountyResult:
    """A county portal built from generated school exports: cold (repeated, each from nothing),
    the second build, then rebuilds each after one school re-exported with one more case."""
    county = work / f"county-{cases}"
    make_school(repo, county)
    catalog = load_catalog(county / "catalog")
    spec = CountySpec(cases=cases)
    print(f"[县级 {cases}] 生成 {spec.school_count} 所学校的县级导出（共 {cases} 份公开案例）……", flush=True)
    started = time.perf_counter()
    exports = write_county(county / "resources", catalog, spec)
    generated = round(time.perf_counter() - started, 1)
    exports_bytes = sum(e.path.stat().st_size for e in exports)
    env = {**os.environ, "PYTHONPATH": str(county / "scripts")}
    ours = [sys.executable, "-m", "portal", "--root", str(county), "site"]
    print(f"[县级 {cases}] 冷启动构建（无缓存），{repeats} 次取中位数……", flush=True)
    colds = []
    for _ in range(repeats):
        wipe(county)
        colds.append(run_measured(ours, county, env))
    _forget_inputs(county)
    second = run_measured(ours, county, env)
    print(f"[县级 {cases}] 一所学校上传新的导出（多一份案例）后重新构建，{repeats} 次（每次换一所学校）……", flush=True)
    rebuilds = []
    for number in range(repeats):
        re_export(county / "resources", catalog, spec, (number * 37 + 11) % spec.school_count)
        rebuilds.append(run_measured(ours, county, env))
    site = county / "site"
    median, largest, total, index = site_figures(site)
    school_pages = max((p.stat().st_size for p in (site / "county" / "schools").glob("*/index.html")), default=0)
    result = CountyResult(cases, spec.school_count, exports_bytes, generated, median_run(colds), second, median_run(rebuilds),
                          median, largest, school_pages, total, index)
    if search:
        print(f"[县级 {cases}] 浏览器中测量搜索……", flush=True)
        result.search = measure_search(site, QUERIES)
    shutil.rmtree(county, ignore_errors=True)  # a large county takes gigabytes
    return result


def set_previews(root: Path, on: bool) -> None:
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    before, after = ("false", "true") if on else ("true", "false")
    config.write_text(text.replace(f"office_previews: {before}", f"office_previews: {after}"), encoding="utf-8")


def bench_previews(repo: Path, documents: int, work: Path, video_seconds: int) -> PreviewResult:
    """A new school's first build with `documents` Office files: cold without previews, cold with
    (batched, as shipped), then the conversion alone batched and one LibreOffice start per
    document, in that order in the same run, one core's worth of LibreOffice each at a time."""
    school = work / "previews"
    make_school(repo, school)
    print(f"[Office 预览] 生成 {documents} 份 Word/PowerPoint 文档……", flush=True)
    docx, pptx = office.write_office_corpus(school / "resources", load_catalog(school / "catalog"), documents)
    env = {**os.environ, "PYTHONPATH": str(school / "scripts")}
    ours = [sys.executable, "-m", "portal", "--root", str(school), "site"]
    cores = str(os.cpu_count() or 1)
    print("[Office 预览] 首次构建：不生成预览、生成预览（批量）各一次……", flush=True)
    set_previews(school, False)
    wipe(school)
    without = run_measured(ours, school, env)
    set_previews(school, True)
    wipe(school)
    build = run_measured(ours, school, env)
    print("[Office 预览] 只做转换：批量转换、逐份启动 LibreOffice 各一次（每核同时一个）……", flush=True)
    tool = [sys.executable, "-m", "portal_tools.previews"]
    batched = run_measured([*tool, "batched", str(school / "resources"), cores], school, env)
    one_each = run_measured([*tool, "one-each", str(school / "resources"), cores], school, env)
    result = PreviewResult(documents, docx, pptx, without, build, batched, one_each)
    if video_seconds and shutil.which("ffmpeg"):
        clips = [school / "videos" / f"课堂实录{n}.wmv" for n in range(2)]
        print(f"[视频转码] 生成 {len(clips)} 段 1280×720 的 WMV 视频（共 {video_seconds} 秒）并转为 H.264……", flush=True)
        for number, clip in enumerate(clips):
            office.classroom_video(clip, max(1, video_seconds // len(clips)), number)
        result.video_minutes = round(office.video_minutes(clips), 3)
        result.transcode = run_measured([*tool, "transcode", str(school / "videos" / "out"), *map(str, clips)], school, env)
    shutil.rmtree(school, ignore_errors=True)
    return result


Row = tuple[str, str, str, bool | None]


def _search_rows(label: str, s: dict[str, Any], judged: bool = True) -> list[Row]:
    def verdict(ok: bool) -> bool | None:
        return ok if judged else None

    return [
        (f"{label}：首次搜索到出结果的传输（含页面）", "≤ 350 KB",
         f"{s['first_query_bytes'] / 1024:.0f} KB（其中搜索数据 {s['first_query_search_data_bytes'] / 1024:.0f} KB；"
         f"出结果后再加载筛选数据，共 {s.get('first_query_bytes_with_facets', s['first_query_bytes']) / 1024:.0f} KB）",
         verdict(s["first_query_bytes"] / 1024 <= TARGETS["first_query_kb"])),
        (f"{label}：之后每次搜索传输", "≤ 100 KB", f"中位 {s['later_query_bytes_median'] / 1024:.0f} KB，最大 {s['later_query_bytes_max'] / 1024:.0f} KB",
         verdict(s["later_query_bytes_max"] / 1024 <= TARGETS["later_query_kb"])),
        (f"{label}：出结果时间", "≤ 300 毫秒", f"中位 {s['first_results_ms_median']} 毫秒，最大 {s['first_results_ms_max']} 毫秒",
         verdict(s["first_results_ms_median"] <= TARGETS["first_results_ms"])),
    ]


def verdicts(results: list[SizeResult], county: list[CountyResult] | None = None, preview: PreviewResult | None = None) -> list[Row]:
    """(what, target, measured, met) rows; met is None where a figure is reported, not judged."""
    county = county or []
    rows: list[Row] = []
    if preview:
        p = preview
        rows.append((f"新学校首次构建：Office 预览每份用时（{p.documents} 份，批量转换 + 页面图片）", "≤ 0.3 秒",
                     f"{p.per_document:.2f} 秒（生成预览 {p.build.seconds} 秒 − 不生成 {p.without.seconds} 秒）", p.per_document <= TARGETS["preview_s_per_doc"]))
        one_each = p.one_each.seconds / p.documents
        ratio = p.per_document / one_each if one_each else float("inf")
        rows.append(("Office 预览：我们 / 逐份启动 LibreOffice（同一次测量）", "≤ 1/3", f"{ratio:.2f}（逐份每份 {one_each:.2f} 秒）",
                     ratio <= TARGETS["preview_vs_one_each"]))
        batched = p.batched.seconds / p.documents
        rows.append(("Office 预览：只算转换，批量 / 逐份", "—", f"{batched / one_each if one_each else 0:.2f}（批量每份 {batched:.2f} 秒）", None))
        if p.transcode and p.video_minutes:
            rows.append(("视频转码：每分钟视频（1280×720 WMV → H.264）", "—", f"{p.transcode.seconds / p.video_minutes:.1f} 秒", None))
    by_size = {r.size: r for r in results}
    for size in JUDGED_SIZES:
        r = by_size.get(size)
        if r and r.material_cold:
            ratio = r.cold.seconds / r.material_cold.seconds
            rows.append((f"{size:,} 份：冷启动 / 原版 Material", "≤ 1.0 倍", f"{ratio:.2f} 倍（{r.cold.seconds} 秒 / {r.material_cold.seconds} 秒）",
                         ratio <= TARGETS["cold_ratio"]))
    if 1000 in by_size and by_size[1000].material_rebuild:
        r = by_size[1000]
        assert r.material_rebuild
        rows.append(("1,000 份：重建 / 原版 Material 重建", "—", f"{r.rebuild.seconds / r.material_rebuild.seconds:.2f} 倍", None))
    for r in results:
        judged = r.size == 10000
        rows.append((f"{r.size:,} 份：新增一份后重建", "≤ 2 秒" if judged else "—", f"{r.rebuild.seconds} 秒",
                     r.rebuild.seconds <= TARGETS["rebuild_10000_s"] if judged else None))
        if r.unchanged:
            rows.append((f"{r.size:,} 份：无改动时再次构建", "—", f"{r.unchanged.seconds} 秒（第二次构建 {r.second.seconds} 秒）", None))
    for r in results:
        if r.arrival:
            median = statistics.median(r.arrival)
            judged = r.size in JUDGED_SIZES
            rows.append((f"{r.size:,} 份：新成果放入后可以打开（make serve 自动更新）", "≤ 5 秒" if judged else "—",
                         f"中位 {median:.1f} 秒（{'、'.join(map(str, r.arrival))}）", median <= TARGETS["arrival_s"] if judged else None))
    if 10000 in by_size:
        peak = by_size[10000].peak_rss_mb
        rows.append(("10,000 份：单个进程峰值内存", "≤ 1 GB", f"{peak:.0f} MB", peak <= TARGETS["peak_rss_10000_mb"]))
    peaks = [r.peak_rss_mb for r in results] + [c.peak_rss_mb for c in county] + ([preview.peak_rss_mb] if preview else [])
    if peaks:
        rows.append(("全部测量中单个进程峰值内存", "≤ 2 GB", f"{max(peaks):.0f} MB", max(peaks) <= TARGETS["peak_rss_mb"]))
    if results:
        largest = max(r.page_bytes_max for r in results) / 1024
        rows.append(("每个成果页的 HTML", "≤ 40 KB", f"最大 {largest:.1f} KB", largest <= TARGETS["page_kb_max"]))
    for r in results:
        if r.search:
            rows.extend(_search_rows(f"{r.size:,} 份", r.search))
    for c in county:
        limit = TARGETS["county_cold_s"].get(c.cases)
        rows.append((f"县级 {c.cases:,} 份（{c.schools} 所学校）：冷启动构建", f"≤ {limit:.0f} 秒" if limit else "—", f"{c.cold.seconds} 秒",
                     c.cold.seconds <= limit if limit else None))
        judged = c.cases == 25000
        rows.append((f"县级 {c.cases:,} 份：一所学校上传新导出后重建", "≤ 20 秒" if judged else "—", f"{c.rebuild.seconds} 秒",
                     c.rebuild.seconds <= TARGETS["county_rebuild_25000_s"] if judged else None))
        rows.append((f"县级 {c.cases:,} 份：每个案例页的 HTML", "≤ 40 KB", f"最大 {c.page_bytes_max / 1024:.1f} KB",
                     c.page_bytes_max / 1024 <= TARGETS["page_kb_max"]))
        if c.search:
            rows.extend(_search_rows(f"县级 {c.cases:,} 份", c.search, judged=c.cases == 100000))
    return rows


def _runs(results: list[SizeResult], county: list[CountyResult], preview: PreviewResult | None) -> list[Run]:
    runs: list[Run] = []
    for r in results:
        runs += [x for x in (r.cold, r.second, r.rebuild, r.unchanged, r.material_cold, r.material_rebuild) if x]
    for c in county:
        runs += [c.cold, c.second, c.rebuild]
    if preview:
        runs += [x for x in (preview.without, preview.build, preview.batched, preview.one_each, preview.transcode) if x]
    return runs


def print_table(results: list[SizeResult], county: list[CountyResult] | None = None, preview: PreviewResult | None = None) -> None:
    county = county or []
    print()
    if results:
        print("冷启动和重建为多次测量的中位数（每次的用时见 reports/bench.json）。")
        print("| 规模 | 冷启动 | 第二次构建 | 无改动再构建 | 新增一份后重建 | 峰值内存 | 成果页 HTML 中位/最大 | 网站（不含附件） | 搜索索引 | 原版 Material 冷启动 / 重建 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results:
            material = f"{r.material_cold.seconds} 秒 / {r.material_rebuild.seconds} 秒" if r.material_cold and r.material_rebuild else "—"
            unchanged = f"{r.unchanged.seconds} 秒" if r.unchanged else "—"
            print(f"| {r.size:,} | {r.cold.seconds} 秒 | {r.second.seconds} 秒 | {unchanged} | {r.rebuild.seconds} 秒 | {r.peak_rss_mb:.0f} MB | "
                  f"{r.page_bytes_median / 1024:.1f} / {r.page_bytes_max / 1024:.1f} KB | {r.site_bytes_without_media / 1e6:.1f} MB | "
                  f"{r.search_index_bytes / 1e6:.1f} MB | {material} |")
        print()
    if county:
        print("县级平台（由各校导出生成，案例各不相同；Office 预览关闭）：")
        print("| 公开案例 | 学校 | 导出文件共 | 冷启动 | 第二次构建 | 新导出后重建 | 峰值内存 | 案例页 HTML 中位/最大 | 学校页最大 | 网站（不含附件） | 搜索索引 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in county:
            print(f"| {c.cases:,} | {c.schools} | {c.exports_bytes / 1e6:.0f} MB | {c.cold.seconds} 秒 | {c.second.seconds} 秒 | {c.rebuild.seconds} 秒 | "
                  f"{c.peak_rss_mb:.0f} MB | {c.page_bytes_median / 1024:.1f} / {c.page_bytes_max / 1024:.1f} KB | {c.school_page_bytes_max / 1024:.0f} KB | "
                  f"{c.site_bytes_without_media / 1e6:.1f} MB | {c.search_index_bytes / 1e6:.1f} MB |")
        for c in county:
            for what, run in (("冷启动", c.cold), ("新导出后重建", c.rebuild)):
                if run.phases:
                    print(f"- 县级 {c.cases:,} 份{what}（中位那次）{run.phases[run.each.index(sorted(run.each)[len(run.each) // 2])]}")
        print()
    if preview:
        p = preview
        print(f"新学校首次构建，{p.documents} 份 Office 文档（{p.docx} 份 .docx、{p.pptx} 份 .pptx），{os.cpu_count()} 核，各测 1 次：")
        print("| 不生成预览 | 生成预览（批量） | 只转换：批量 | 只转换：逐份启动 LibreOffice | 峰值内存 |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| {p.without.seconds} 秒 | {p.build.seconds} 秒 | {p.batched.seconds} 秒 | {p.one_each.seconds} 秒 | {p.peak_rss_mb:.0f} MB |")
        if p.transcode:
            print(f"视频转码：{p.video_minutes:.1f} 分钟视频用时 {p.transcode.seconds} 秒。")
        print()
    busy = max((x for run in _runs(results, county, preview) for x in run.load), default=0.0)
    cores = os.cpu_count() or 1
    if busy > 1.5 * cores:
        print(f"注意：有测量开始时机器的 1 分钟平均负载为 {busy:.1f}（{cores} 核），另有程序在运行，用时会偏大；请在机器空闲时重测（每次的负载见 reports/bench.json）。\n")
    for what, target, measured, met in verdicts(results, county, preview):
        mark = "达标" if met else ("未达标" if met is False else "—")
        print(f"- {what}：目标 {target}，实测 {measured}，{mark}")


def main(repo: Path, sizes: list[int], out: Path, reference: bool = True, search: bool = True, repeats: int = 3,
         county_sizes: list[int] | None = None, previews: int = 0, video_seconds: int = 60) -> int:
    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    results: list[SizeResult] = []
    county: list[CountyResult] = []
    preview: PreviewResult | None = None
    try:
        for size in sizes:
            results.append(bench_size(repo, size, work, reference, search, repeats))
        for cases in county_sizes or []:
            county.append(bench_county(repo, cases, work, search, repeats))
        if previews:
            preview = bench_previews(repo, previews, work, video_seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, county, preview)
    if county_sizes is not None and 100000 not in county_sizes:
        print("\n县级 100,000 份未测（冷启动约需 10 分钟，生成导出另需数分钟）：make bench BENCH_COUNTY=25000,100000")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores", "results": [asdict(r) for r in results],
            "county": [asdict(c) for c in county], "previews": asdict(preview) if preview else None,
            "verdicts": [{"what": w, "target": t, "measured": m, "met": ok} for w, t, m, ok in verdicts(results, county, preview)]}
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\n结果已写入 {out}")
    return 0


def _numbers(text: str) -> list[int]:
    return [int(n) for n in text.replace("，", ",").split(",") if n.strip() and int(n) > 0]


def cli(argv: list[str] | None = None) -> int:
    """`python -m portal_tools.bench` (what `make bench` runs)."""
    from portal.cli import ChineseParser

    parser = ChineseParser(prog="portal_tools.bench", description="运行性能测试并打印结果（写入 reports/bench.json）")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="学校仓库所在文件夹（默认当前文件夹）")
    parser.add_argument("--sizes", default="1000,10000", help="一所学校的模拟成果数，逗号分隔（默认 1000,10000；0 表示不测）")
    parser.add_argument("--county", default="25000", help="县级平台的公开案例数，逗号分隔（默认 25000；0 表示不测；100,000 份：25000,100000）")
    parser.add_argument("--previews", type=int, default=200, help="新学校首次构建的 Office 文档数（默认 200；0 表示不测）")
    parser.add_argument("--video-seconds", type=int, default=60, help="测量转码用的视频总时长，秒（默认 60；0 表示不测）")
    parser.add_argument("--no-reference", action="store_true", help="不用原版 Material 构建对照")
    parser.add_argument("--no-search", action="store_true", help="不在浏览器中测量搜索")
    parser.add_argument("--repeats", type=int, default=3, help="冷启动和重建各测几次，取中位数（默认 3）")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    return main(root, _numbers(args.sizes), root / "reports" / "bench.json", not args.no_reference, not args.no_search, max(1, args.repeats),
                _numbers(args.county), max(0, args.previews), max(0, args.video_seconds))


if __name__ == "__main__":
    sys.exit(cli())
