"""Benchmarks (`make bench`): build a synthetic school of N resources and measure what admins and
teachers feel: cold build, rebuild after one new submission, peak memory of every process, page
weight, and search cost in a real browser; the same corpus built by plain Material for MkDocs is
the yardstick, since absolute times on shared machines drift from run to run.

Figures go to the terminal as a table and to `reports/bench.json`. Nothing here is a test:
timings are printed, never asserted.
"""

from __future__ import annotations

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
from .corpus import CorpusSpec, write_corpus

QUERIES = ["钟表", "圆的面积", "面积", "几何画板", "有余数的除法", "核心素养", "课堂观察", "教学", "浮力 控制变量", "编程", "的"]
TARGETS = {
    "cold_10000_s": 60.0,
    "rebuild_10000_s": 10.0,
    "peak_rss_mb": 2048.0,
    "cold_ratio_1000": 1.5,
    "rebuild_ratio_1000": 0.5,
    "page_kb_max": 40.0,
    "first_query_kb": 350.0,
    "later_query_kb": 100.0,
    "first_results_ms": 300.0,
    "arrival_s": 5.0,
}


@dataclass
class Run:
    seconds: float  # the median of the repetitions
    peak_rss_mb: float  # the largest single process of the command (children included), over all repetitions
    each: list[float] = field(default_factory=list)  # every repetition's seconds, in order


def median_run(runs: list[Run]) -> Run:
    """Shared machines have bursts of slow disk and stolen CPU: the median of a few runs says
    more than any one of them."""
    return Run(round(statistics.median(r.seconds for r in runs), 2), max(r.peak_rss_mb for r in runs), [r.seconds for r in runs])


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


def _measure(command: list[str], cwd: Path, env: dict[str, str] | None) -> tuple[float, float, int, str]:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode("utf-8", "replace")[-2000:] if process.stderr else ""
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), error


@functools.cache
def _launcher() -> ProcessPoolExecutor:
    """A small process that starts the measured commands. Linux counts the memory of the process
    that starts a program into the program's peak RSS, and this benchmark holds a whole corpus:
    started from here, a build's figure would be the benchmark's size. The launcher comes from a
    fresh interpreter (forkserver) and stays small."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))


def run_measured(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS: wait4 reports the largest of the process and its waited-for children."""
    seconds, peak, code, error = _launcher().submit(_measure, command, cwd, env).result()
    if code != 0:
        raise RuntimeError(f"命令失败：{' '.join(command)}\n{error}")
    return Run(round(seconds, 2), round(peak, 1))


def make_school(repo: Path, root: Path) -> None:
    """A copy of the school repository's configuration with no submissions, previews off."""
    root.mkdir(parents=True)
    for folder in ("catalog", "content", "overrides"):
        shutil.copytree(repo / folder, root / folder)
    shutil.copytree(repo / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
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
    """Every resource a Markdown page (title, metadata, text), out of the nav, built-in search on."""
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
                page.wait_for_selector("[data-portal-search][data-ready]")
                elapsed = (time.perf_counter() - started) * 1000
                count = page.locator(".portal-search__count").inner_text()
                transferred = sum(size for _, size in sizes)
                if number == 0:
                    transferred += page_load
                results.append({"query": query, "bytes": transferred, "ms": round(elapsed, 1), "result": count})
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    later = results[1:]
    return {
        "page_load_bytes": page_load,
        "first_query_bytes": results[0]["bytes"],
        "first_query_search_data_bytes": search_data + results[0]["bytes"] - page_load,
        "later_query_bytes_median": int(statistics.median(r["bytes"] for r in later)) if later else 0,
        "later_query_bytes_max": max((r["bytes"] for r in later), default=0),
        "first_results_ms_median": round(statistics.median(r["ms"] for r in results), 1),
        "first_results_ms_max": max(r["ms"] for r in results),
        "queries": results,
    }


# -- the whole benchmark -------------------------------------------------------------------------


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
    second = run_measured(ours, school, env)

    print(f"[{size}] 新增一份后重新构建，{repeats} 次（每次新增一份）……", flush=True)
    rebuilds, material_rebuilds = [], []
    for number in range(1, repeats + 1):
        one_more(school / "resources", number)
        rebuilds.append(run_measured(ours, school, env))
        if reference:
            (plain / "docs" / "r" / f"bench-new-{number}.md").write_text(f"# 新提交的一份成果（{number}）\n\n课后反思。\n", encoding="utf-8")
            material_rebuilds.append(run_measured(material, plain))

    median, largest, total, index = site_figures(school / "site")
    result = SizeResult(size, median_run(colds), second, median_run(rebuilds), median, largest, total, index)
    if reference:
        result.material_cold, result.material_rebuild = median_run(material_colds), median_run(material_rebuilds)
    if search:
        print(f"[{size}] 浏览器中测量搜索……", flush=True)
        result.search = measure_search(school / "site", QUERIES)
    print(f"[{size}] make serve 自动更新：新成果放入后多久能打开，{repeats} 次……", flush=True)
    result.arrival = publish_on_arrival(school, env, repeats)
    return result


def verdicts(results: list[SizeResult]) -> list[tuple[str, str, str, bool | None]]:
    """(what, target, measured, met) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    by_size = {r.size: r for r in results}
    if 10000 in by_size:
        r = by_size[10000]
        rows.append(("10,000 份：冷启动构建", "≤ 60 秒", f"{r.cold.seconds} 秒", r.cold.seconds <= TARGETS["cold_10000_s"]))
        rows.append(("10,000 份：新增一份后重建", "≤ 10 秒", f"{r.rebuild.seconds} 秒", r.rebuild.seconds <= TARGETS["rebuild_10000_s"]))
    peak = max(max(r.cold.peak_rss_mb, r.second.peak_rss_mb, r.rebuild.peak_rss_mb) for r in results)
    rows.append(("单个进程峰值内存（含搜索索引）", "≤ 2 GB", f"{peak:.0f} MB", peak <= TARGETS["peak_rss_mb"]))
    if 1000 in by_size and by_size[1000].material_cold:
        r = by_size[1000]
        assert r.material_cold and r.material_rebuild
        cold_ratio = r.cold.seconds / r.material_cold.seconds
        rebuild_ratio = r.rebuild.seconds / r.material_rebuild.seconds
        rows.append(("1,000 份：冷启动 / 原版 Material", "≤ 1.5 倍", f"{cold_ratio:.2f} 倍", cold_ratio <= TARGETS["cold_ratio_1000"]))
        rows.append(("1,000 份：重建 / 原版 Material 重建", "≤ 0.5 倍", f"{rebuild_ratio:.2f} 倍", rebuild_ratio <= TARGETS["rebuild_ratio_1000"]))
    for r in results:
        if r.arrival:
            median = statistics.median(r.arrival)
            rows.append((f"{r.size:,} 份：新成果放入后可以打开（make serve 自动更新）", "≤ 5 秒", f"中位 {median:.1f} 秒（{'、'.join(map(str, r.arrival))}）",
                         median <= TARGETS["arrival_s"] if r.size <= 1000 else None))
    largest = max(r.page_bytes_max for r in results) / 1024
    rows.append(("每个成果页的 HTML", "≤ 40 KB", f"最大 {largest:.1f} KB", largest <= TARGETS["page_kb_max"]))
    for r in results:
        if r.search:
            s = r.search
            rows.append((f"{r.size:,} 份：首次搜索传输（含页面）", "≤ 350 KB", f"{s['first_query_bytes'] / 1024:.0f} KB（其中搜索数据 {s['first_query_search_data_bytes'] / 1024:.0f} KB）", s["first_query_bytes"] / 1024 <= TARGETS["first_query_kb"]))
            rows.append((f"{r.size:,} 份：之后每次搜索传输", "≤ 100 KB", f"中位 {s['later_query_bytes_median'] / 1024:.0f} KB，最大 {s['later_query_bytes_max'] / 1024:.0f} KB", s["later_query_bytes_max"] / 1024 <= TARGETS["later_query_kb"]))
            rows.append((f"{r.size:,} 份：出结果时间", "≤ 300 毫秒", f"中位 {s['first_results_ms_median']} 毫秒，最大 {s['first_results_ms_max']} 毫秒", s["first_results_ms_median"] <= TARGETS["first_results_ms"]))
    return rows


def print_table(results: list[SizeResult]) -> None:
    print()
    print("冷启动和重建为多次测量的中位数（每次的用时见 reports/bench.json）。")
    print("| 规模 | 冷启动 | 第二次构建 | 新增一份后重建 | 峰值内存 | 成果页 HTML 中位/最大 | 网站（不含附件） | 搜索索引 | 原版 Material 冷启动 / 重建 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        material = f"{r.material_cold.seconds} 秒 / {r.material_rebuild.seconds} 秒" if r.material_cold and r.material_rebuild else "—"
        peak = max(r.cold.peak_rss_mb, r.second.peak_rss_mb, r.rebuild.peak_rss_mb)
        print(f"| {r.size:,} | {r.cold.seconds} 秒 | {r.second.seconds} 秒 | {r.rebuild.seconds} 秒 | {peak:.0f} MB | "
              f"{r.page_bytes_median / 1024:.1f} / {r.page_bytes_max / 1024:.1f} KB | {r.site_bytes_without_media / 1e6:.1f} MB | "
              f"{r.search_index_bytes / 1e6:.1f} MB | {material} |")
    print()
    for what, target, measured, met in verdicts(results):
        mark = "达标" if met else ("未达标" if met is False else "—")
        print(f"- {what}：目标 {target}，实测 {measured}，{mark}")


def main(repo: Path, sizes: list[int], out: Path, reference: bool = True, search: bool = True, repeats: int = 3) -> int:
    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    results: list[SizeResult] = []
    try:
        for size in sizes:
            results.append(bench_size(repo, size, work, reference, search, repeats))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores", "results": [asdict(r) for r in results],
            "verdicts": [{"what": w, "target": t, "measured": m, "met": ok} for w, t, m, ok in verdicts(results)]}
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\n结果已写入 {out}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """`python -m portal_tools.bench` (what `make bench` runs)."""
    from portal.cli import ChineseParser

    parser = ChineseParser(prog="portal_tools.bench", description="运行性能测试并打印结果（写入 reports/bench.json）")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="学校仓库所在文件夹（默认当前文件夹）")
    parser.add_argument("--sizes", default="1000,10000", help="模拟成果数，逗号分隔（默认 1000,10000）")
    parser.add_argument("--no-reference", action="store_true", help="不用原版 Material 构建对照")
    parser.add_argument("--no-search", action="store_true", help="不在浏览器中测量搜索")
    parser.add_argument("--repeats", type=int, default=3, help="冷启动和重建各测几次，取中位数（默认 3）")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    return main(root, sizes, root / "reports" / "bench.json", not args.no_reference, not args.no_search, max(1, args.repeats))


if __name__ == "__main__":
    sys.exit(cli())
