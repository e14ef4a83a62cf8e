"""Command line: `python -m portal site|check|serve`. Everything it prints is for school admins."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import NoReturn

from . import forks, pipeline, unchanged
from .catalog import load_catalog
from .extract import passing
from .lock import build_lock
from .memo import Walk
from .policy import Policy
from .model import term_label
from .project import Project
from .settings import Settings
from .report import WORKBOOK, completion, problem_lines, register_template, summary_lines, write_reports


def _print_outcome(outcome: pipeline.Outcome, project: Project, term: str | None = None, workbook: bool = True) -> None:
    problems = outcome.intake.problems + outcome.problems
    for line in problem_lines(problems):
        print(line)
    for line in summary_lines(outcome.intake, outcome.problems):
        print(line)
    catalog, policy = load_catalog(project.catalog), Policy.load(project.catalog)
    if outcome.reported:  # written during the build
        done = completion(project.resources, outcome.intake.records, catalog, policy, term)
    else:
        done = write_reports(project.resources, outcome.intake, outcome.problems, catalog, policy, project.reports, term, workbook, outcome.usage)
    if outcome.usage is not None and outcome.usage.files:
        print(f"访问日志：{outcome.usage.files} 个文件，本次读取新记录 {outcome.usage.lines} 行")
    elif outcome.usage is not None:
        print("提示：还没有访问日志，浏览、播放、下载统计为空。make serve 会记录访问；用 nginx 的学校请在 mkdocs.yml 的 extra.portal.access_logs 中写上日志位置")
        for line in outcome.usage.skipped:
            print(line)
    for problem in done.problems:
        print(problem)
    for label, standings in ((f"整个周期（{done.cycle_label}）", done.cycle_standings), (f"本学期（{term_label(done.term or '')}）", done.standings)):
        if standings:
            count = {status: sum(1 for s in standings if s.status == status) for status in ("达标", "未达标", "未提交")}
            print(f"{label}教师 {len(standings)} 人：达标 {count['达标']} 人，未达标 {count['未达标']} 人，未提交 {count['未提交']} 人")
    outside = sorted({r.term for r in outcome.intake.records} - set(done.cycle)) if done.cycle_standings else []
    if outside:
        print(f"[提醒] 学期 {'、'.join(outside)} 不在 catalog/policy.yml 的 cycle（{'、'.join(done.cycle)}）中，这些学期的成果不计入“整个周期”的达标；"
              "新的提升周期开始时，请修改 cycle")
    if Settings.load(project.config_file).site_url is None:
        print("提示：在 mkdocs.yml 中写上网站地址（如 site_url: http://192.168.1.10:8000/，即本机在校园网中的地址）后，每个成果页会显示二维码，方便课堂上用手机打开")
    print("管理员报告：reports/index.html" + (f" 和 reports/{WORKBOOK}" if workbook else "（Excel 版由 make check 生成）"))


def cmd_site(project: Project) -> int:
    started = time.monotonic()
    walked = Walk(project.resources)  # one walk: for the no-change check, then for intake
    inputs = unchanged.fingerprint(project, walked)  # before anything is read: a change meanwhile builds again next time
    summary = unchanged.last_summary(project, inputs)
    if summary is not None and (project.reports / "index.html").is_file():  # else the report is written again
        # Not the last build's timing, nor its reading of the access logs, as if they were this run's.
        print("".join(line for line in summary.splitlines(keepends=True) if not line.startswith(("网站已生成到", "各阶段用时", "访问日志："))), end="")
        print(f"网站没有变化：成果、设置、页面、访问日志和程序都与上次生成时相同，未重新生成（用时 {time.monotonic() - started:.1f} 秒）。以上是上次生成时的提醒和统计")
        return 0
    outcome = pipeline.build_site(project, report=True, walked=walked)
    try:
        return _after_site(project, outcome, inputs, started)
    except KeyboardInterrupt as stopped:  # the new site is live already: say so, not "unchanged"
        stopped.published = True  # type: ignore[attr-defined]
        raise


def _after_site(project: Project, outcome: pipeline.Outcome, inputs: str | None, started: float) -> int:
    """Once the new site is live: what it published, the report; a failure now is the report's."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        try:
            _print_site_outcome(outcome, project, started)
        except Exception as error:  # noqa: BLE001 - one clear line; the details in a file
            forks.log_failure(error)
            failed = error
        else:
            failed = None
    print(printed.getvalue(), end="")
    if failed is not None:
        print(f"网站已生成并发布，但管理员报告 reports/index.html 没有写成：{explain(failed)}。"
              f"详细信息见 {(project.work / ERROR_LOG_NAME).relative_to(project.root)}", file=sys.stderr)
        return 1
    if not any(passing(p.reason) for p in [*outcome.intake.problems, *outcome.problems]):
        unchanged.remember(project, inputs, printed.getvalue())  # else a file was being copied: the next run looks again
    return 0  # refusals are reported, not fatal: `check` is the strict gate


def _print_site_outcome(outcome: pipeline.Outcome, project: Project, started: float) -> None:
    _print_outcome(outcome, project, workbook=False)  # the workbook is make check's
    _print_county(outcome, project, "。全县页面：site/county/")
    cache = outcome.cache
    cached = f"，文档提取缓存命中 {cache.hits} / {cache.hits + cache.misses}" if cache else ""
    print(f"网站已生成到 site/，用时 {time.monotonic() - started:.1f} 秒，更新页面 {outcome.pages_changed} 个，沿用未变页面 {outcome.pages_reused} 个{cached}")
    names = {"intake": "读取", "usage": "访问日志", "extract": "提取", "generate": "生成页面", "mkdocs": "渲染页面", "pages": "写入页面", "index": "搜索索引"}
    print("各阶段用时：" + "，".join(f"{names[k]} {v:.1f} 秒" for k, v in outcome.seconds.items()))


def _print_county(outcome: pipeline.Outcome, project: Project, where: str) -> None:
    if outcome.schools or (project.resources / "_schools").is_dir():
        refused = len({p.path.split("/")[1] for p in outcome.problems if p.refused and p.path.startswith("_schools/")})
        print(f"全县：收录 {len(outcome.schools)} 所学校的导出，共 {sum(outcome.schools.values())} 份公开案例"
              + (f"；{refused} 个导出未收录，原因见上" if refused else "") + (where if outcome.schools else "。"))


def cmd_showcase(project: Project, archive: bool) -> int:
    started = time.monotonic()
    outcome = pipeline.build_showcase(project)
    for problem in outcome.problems:
        print(problem)
    held = sum(1 for p in outcome.problems if p.field == "公开前检查")
    print(f"优秀案例展示已生成到 showcase/：公开 {len(outcome.published)} 份（优秀案例且教师同意公开），"
          f"因含个人信息暂不公开 {held} 份，用时 {time.monotonic() - started:.1f} 秒")
    if archive:
        from .build import zip_folder

        target = zip_folder(project.showcase, project.root / "showcase.zip")
        print(f"已打包为 {target.name}（{target.stat().st_size / 1e6:.1f} MB），解压到任何静态网站服务器的目录即可访问")
    return 0


def cmd_county_export(project: Project) -> int:
    from .county.export import county_export, school_name
    from .county.schools import DEFAULT_NAMES

    name = school_name(Settings.load(project.config_file))
    if name in DEFAULT_NAMES:
        print(f"校名还是平台的默认名称“{name}”，县里分不出是哪所学校，会拒收。请在 mkdocs.yml 的 extra.portal 下写上 school: 校名（或改 site_name）后重新运行。",
              file=sys.stderr)
        return 1
    started = time.monotonic()
    done = county_export(project)
    for problem in done.problems:
        print(problem)
    terms = "、".join(term_label(t) for t in done.terms) or "无"
    print(f"县级导出已生成：{done.path.name}（{done.path.stat().st_size / 1e6:.1f} MB），学校“{done.school}”，"
          f"公开案例 {done.cases} 份，统计学期：{terms}，用时 {time.monotonic() - started:.1f} 秒")
    print(f"请把 {done.path.name} 上传到县里（放入县级仓库的 resources/_schools/，可改名为校名，如 {done.school}.zip）；"
          "重新导出后上传新文件替换旧文件即可。校名取 mkdocs.yml 的 extra.portal.school（未写时用 site_name）。")
    return 0


def cmd_wechat(project: Project) -> int:
    from .wechat import wechat_exports

    if not (project.site / "index.html").exists():
        print("还没有生成网站，请先运行 make site。", file=sys.stderr)
        return 1
    exported, helper = wechat_exports(project.site, project.reports)
    for item in exported:
        print(f"已生成 {item.page.relative_to(project.root)}：{item.title}")
        for note in item.notes:
            print(f"  [提醒] {note}")
    if exported:
        print(f"用浏览器打开 {helper.relative_to(project.root)}，点“复制正文”，再粘贴到公众号编辑器。")
    else:
        print("没有简报：在 content/briefings/ 中添加简报后重新运行 make site。")
    return 0


def cmd_check(project: Project, term: str | None) -> int:
    outcome = pipeline.check(project)
    _print_outcome(outcome, project, term)
    _print_county(outcome, project, "。")
    if outcome.intake.refused:
        print("检查未通过：有成果未能发布，请按上面的说明修改后重新提交。")
        return 1
    if any(p.refused for p in outcome.problems):
        print("检查未通过：有学校的导出未能收录（resources/_schools/），请按上面的说明让学校重新导出后替换。")
        return 1
    print("检查通过：全部成果都可以发布。")
    return 0


def cmd_serve(project: Project, host: str, port: int, watching: bool = True) -> int:
    """Build, serve on the LAN, and (unless told not to) rebuild whenever submissions change."""
    import threading

    from . import watch
    from .serve import lan_address, make_server, started_line

    before = watch.tree_stamp(project) if watching else None
    if watching:
        (project.work / watch.STATE).unlink(missing_ok=True)  # the first build reports everything
        watch.rebuild(project)
        watch.finish_rebuild()  # its lines ("启动时生成用时…") come before the address, not among later ones
    if not (project.site / "index.html").exists():
        print("还没有生成网站，请先运行 make site，并按上面的提示修改。", file=sys.stderr)
        return 1
    try:
        server = make_server(project.site, host, port, logs=project.root / "logs")  # usage statistics read these
    except OSError as error:
        from .documents import ERRNO_TEXT

        print(f"无法在端口 {port} 上提供网站（{ERRNO_TEXT.get(error.errno or 0, error.strerror)}）：可能已有程序占用该端口。请关闭它，或换一个端口：make serve PORT=8080", file=sys.stderr)
        return 1
    bound = server.server_address[1]  # the one the system chose for --port 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(started_line(host, bound, lan_address()), flush=True)
    stop = threading.Event()
    try:
        if watching:
            print("正在关注 resources/、content/、catalog/、overrides/ 和 mkdocs.yml：教师放入新成果后，网站会自动更新。按 Ctrl+C 停止。", flush=True)
            settings = Settings.load(project.config_file)
            watch.watch(project, stop, force_polling=settings.watch_polling, since=before, settle=watch.settle_seconds(settings.watch_settle))
        else:
            print("按 Ctrl+C 停止。", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        watch.finish_rebuild()  # the last rebuild's admin report
    dropped = "正在进行的更新已放弃，已发布的网站保持不变，下次启动时会重新生成。" if watch.stopped_mid_update.is_set() else ""
    print(f"\n已停止。{dropped}", flush=True)
    return 0


class ChineseParser(argparse.ArgumentParser):
    """argparse, with its mistakes said in Chinese (a mistyped command is a school admin's, too)."""

    def error(self, message: str) -> NoReturn:
        import re

        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = "、".join(re.findall(r"'?([\w-]+)'?", choice.group(2)))
            said = f"不认识的命令“{choice.group(1)}”，可用的命令：{options}"
        elif "arguments are required" in message:
            said = f"缺少命令或参数（{message.split(':', 1)[-1].strip()}）"
        elif "unrecognized arguments" in message:
            said = f"多余的参数：{message.split(':', 1)[-1].strip()}"
        else:
            said = f"命令行参数有误（{message}）"
        self.exit(2, f"{self.prog}：{said}。查看说明：{self.prog} --help\n")


def main(argv: list[str] | None = None) -> int:
    parser = ChineseParser(prog="portal", description="学校教学成果资源平台")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="学校仓库所在文件夹（默认当前文件夹）")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("site", help="生成校内网站到 site/")
    check = commands.add_parser("check", help="只检查成果并写出管理员报告，有未通过的则返回非零")
    check.add_argument("--term", help="统计完成情况的学期，如 2023-2024-1（默认最新学期）")
    commands.add_parser("showcase", help="生成对外公开的优秀案例展示到 showcase/")
    commands.add_parser("showcase-zip", help="生成优秀案例展示并打包为 showcase.zip")
    commands.add_parser("county-export", help="生成给县里的导出文件 county-export.zip（公开案例和本校统计）")
    commands.add_parser("briefing-pdf", help="把研修简报打印成 A4 PDF 到 reports/briefings/")
    commands.add_parser("wechat", help="把研修简报转成可粘贴到公众号编辑器的页面（reports/wechat/）")
    template = commands.add_parser("register-template", help="生成空白成果登记表（带下拉选项）")
    template.add_argument("--out", type=Path, default=None, help="保存位置（默认 reports/成果登记表模板.xlsx）")
    serve = commands.add_parser("serve", help="在校园网内提供网站")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-watch", action="store_true", help="只提供网站，不自动更新")
    args = parser.parse_args(argv)
    project = Project(args.root.resolve())
    forks.ERROR_LOG = project.work / ERROR_LOG_NAME
    forks.ERROR_LOG.unlink(missing_ok=True)
    undo = forks.stop_on_sigterm()
    try:
        with build_lock(project.work) if args.command in BUILDS else nullcontext():
            return _dispatch(args, project)
    except KeyboardInterrupt as stopped:
        print("\n已中断：" + ("新网站已经发布，但管理员报告可能没有写完，请重新运行 make site。" if getattr(stopped, "published", False)
                            else "已发布的网站保持不变。"), file=sys.stderr)
        return 143 if isinstance(stopped, forks.Terminated) else 130
    except Exception as error:  # noqa: BLE001 - one clear line for admins, the details in a file
        forks.log_failure(error)
        print(failure_line(error, project, "检查" if args.command == "check" else "生成"), file=sys.stderr)
        return 1
    finally:
        undo()


ERROR_LOG_NAME = "last-error.log"
BUILDS = {"site", "showcase", "showcase-zip", "county-export"}  # one at a time (lock.py); check and serve only read


def failure_line(error: BaseException, project: Project, what: str = "生成") -> str:
    """What failed, in one Chinese line, and what to do; the traceback is in .build/last-error.log."""
    stage = ""
    if isinstance(error, pipeline.StageFailed):
        stage, error = f"{error.stage_name}时", error.error
    log = (project.work / ERROR_LOG_NAME).relative_to(project.root)
    return f"{what}失败：{stage}{explain(error)}。已发布的网站保持不变。详细信息见 {log}；无法解决时请把该文件发给技术支持。"


def explain(error: BaseException) -> str:
    """A failure's cause in plain Chinese, with what an admin can do about it."""
    import errno

    import jinja2
    import yaml
    from mkdocs.exceptions import ConfigurationError, MkDocsException

    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{Path(mark.name).name} 第 {mark.line + 1} 行格式错误（{error.problem}），请检查冒号、缩进和括号后重新运行"
    if isinstance(error, ConfigurationError):
        return f"mkdocs.yml 的设置有误（{str(error).strip()[:200]}），请改正后重新运行"
    if isinstance(error, jinja2.TemplateError):
        where = getattr(error, "filename", None) or getattr(error, "name", None) or "主题模板"
        return f"页面模板 {where} 有错误（{error.message or type(error).__name__}），请检查 overrides/ 中修改过的模板"
    if isinstance(error, MkDocsException):
        return f"MkDocs 报错（{str(error).strip()[:200]}）"
    if isinstance(error, MemoryError):
        return "内存不足，请关闭其他程序后重新运行"
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"“{error.filename}”在生成过程中被删除或移动了，请重新运行（make serve 会在文件放好后自动重新生成）"
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC:
            return "磁盘空间不足，请清理磁盘后重新运行"
        name = f"“{error.filename}”" if error.filename else ""
        from .documents import ERRNO_TEXT, os_reason

        reason = os_reason(error) if error.errno in ERRNO_TEXT else error.strerror or type(error).__name__
        return f"读写文件{name}出错（{reason}），请检查磁盘和文件权限后重新运行"
    if isinstance(error, RuntimeError) and any("\u4e00" <= c <= "\u9fff" for c in str(error)):
        return f"{error}，请重新运行"  # our own messages (a failed helper process) are Chinese already
    return f"程序内部错误（{type(error).__name__}），请重新运行"


def _dispatch(args: argparse.Namespace, project: Project) -> int:
    if args.command == "site":
        return cmd_site(project)
    if args.command == "check":
        return cmd_check(project, args.term)
    if args.command in ("showcase", "showcase-zip"):
        return cmd_showcase(project, archive=args.command == "showcase-zip")
    if args.command == "county-export":
        return cmd_county_export(project)
    if args.command == "briefing-pdf":
        from .printing import briefing_pdfs

        if not (project.site / "index.html").exists():
            print("还没有生成网站，请先运行 make site。", file=sys.stderr)
            return 1
        written = briefing_pdfs(project.site, project.reports / "briefings")
        for path in written:
            print(f"已生成 {path.relative_to(project.root)}")
        if not written:
            print("没有简报：在 content/briefings/ 中添加简报后重新运行 make site。")
        return 0
    if args.command == "wechat":
        return cmd_wechat(project)
    if args.command == "register-template":
        out = register_template(load_catalog(project.catalog), args.out or project.reports / "成果登记表模板.xlsx")
        print(f"空白成果登记表已生成：{out}")
        print("填写后放入学期文件夹（如 resources/2024-2025-1/），表中“文件”一列写同一文件夹里的文件名，多个用分号隔开。")
        return 0
    return cmd_serve(project, args.host, args.port, not args.no_watch)
