"""Builders: the program that renders the pages the portal does not fill in itself.

The portal writes every resource, listing and statistics page itself (chrome.py); a builder
renders only the hand-written pages, the briefings and one shell per page shape, with the
school's theme. Three builders read the same mkdocs.yml:

- MkDocs 1.6 (the default), run in this process;
- ProperDocs, which continues MkDocs 1.x: run in its own environment (`.venv-properdocs`) through
  its `mkdocs` alias, so Material and our hooks import it unchanged;
- Zensical, the Material authors' successor: run as its own program (`.venv-zensical`) on a copy
  of mkdocs.yml with this build's folders. It ignores `hooks:` (they only save time).

The builder is chosen by `PORTAL_BUILDER` (what `make site BUILDER=…` sets), else by
`extra.portal.builder` in mkdocs.yml, else MkDocs. This module imports only the standard library
at the top: the other builders' environments run it (`python -m portal.builders`) without the
portal's own dependencies.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

NAMES = ("mkdocs", "properdocs", "zensical")
LABELS = {"mkdocs": "MkDocs", "properdocs": "ProperDocs", "zensical": "Zensical"}
VARIABLE = "PORTAL_BUILDER"
SCRIPTS = Path(__file__).resolve().parent.parent  # on PYTHONPATH of a builder's own process
REPO = SCRIPTS.parent  # where `make setup-<builder>` puts `.venv-<builder>`
ZENSICAL_CONFIG = ".portal-zensical.yml"  # written beside the folders Zensical reads and writes


class BuilderError(RuntimeError):
    """A builder is unknown, not installed, or failed; the message is for school admins."""


@dataclass(frozen=True)
class Builder:
    name: str
    python: Path | None = None  # the interpreter of the builder's own environment; None: this process

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def fingerprint(self) -> str:
        """The builder and the versions of what it renders with: a new version renders afresh."""
        if self.python is None or self.python == Path(sys.executable):
            return f"{self.name} {_versions(self.name, 'mkdocs-material')}"
        packages = sorted(p.name for p in self.python.parent.parent.glob("lib/python*/site-packages/*.dist-info"))
        return f"{self.name} {' '.join(packages)}"

    def render(self, config_file: Path, docs: Path, out: Path, clean: bool = True, **overrides: Any) -> None:
        """Render `docs` into `out` with the settings of `config_file`, `overrides` replacing some
        (the showcase's name and navigation). Without `clean` the builder may reuse what it
        rendered into `out` last time (MkDocs' dirty build, Zensical's own cache)."""
        if self.name == "mkdocs":
            api_build(str(config_file), str(docs), str(out), not clean, overrides)
        elif self.name == "properdocs":
            request = {"config_file": str(config_file), "docs": str(docs), "out": str(out), "dirty": not clean, "overrides": overrides}
            self._run([str(self.python), "-m", "portal.builders", json.dumps(request, ensure_ascii=False)], cwd=config_file.parent)
        else:
            folder = Path(os.path.commonpath([docs.resolve(), out.resolve()]))
            config = folder / ZENSICAL_CONFIG
            config.write_text(zensical_config(config_file, docs.resolve(), out.resolve(), folder, overrides), encoding="utf-8")
            self._run([str(self.python), "-m", "zensical", "build", "-f", str(config), *(["--clean"] if clean else [])], cwd=folder)

    def _run(self, command: list[str], cwd: Path) -> None:
        environment = {**os.environ, "PYTHONPATH": str(SCRIPTS), "DISABLE_MKDOCS_2_WARNING": "true", "PYTHONIOENCODING": "utf-8"}
        try:
            done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, encoding="utf-8", errors="replace", check=False)
        except OSError as error:
            raise BuilderError(f"无法启动 {self.label}（{error.strerror}）：请运行 make site BUILDER={self.name} 重新安装") from error
        sys.stderr.write(_warnings(done.stdout + done.stderr))
        if done.returncode != 0:
            last = next((line.strip() for line in reversed(done.stderr.splitlines() or done.stdout.splitlines()) if line.strip()), "")
            raise BuilderError(f"{self.label} 渲染页面失败（退出码 {done.returncode}：{last[:300]}）")


def _warnings(output: str) -> str:
    """What a builder's process printed that an admin should see: warnings and errors, not the
    progress lines every build prints."""
    lines = [line for line in output.splitlines() if line.strip().upper().startswith(("WARNING", "ERROR"))]
    return "".join(f"{line}\n" for line in lines)


def _versions(*names: str) -> str:
    """Installed versions of `names`; a name missing here (ProperDocs provides `mkdocs` as an
    alias, not as a distribution) counts as such rather than failing the build."""
    return " ".join(f"{name}=={found}" if (found := installed_version(name)) else f"{name} missing" for name in names)


def installed_version(name: str) -> str | None:
    """The version of package `name` as this Python finds it (the first `<name>-<version>.dist-info`
    folder on its path, as importlib.metadata takes it), without importing importlib.metadata
    (0.04 s of every rebuild); packages installed otherwise are asked of it."""
    found = _dist_info_versions().get(_normalised(name))
    if found is not None:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _dist_info_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or os.curdir)
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                project, _, version = folder[: -len(".dist-info")].rpartition("-")
                if project and version:
                    found.setdefault(_normalised(project), version)
    return found


def requested(config_file: Path) -> str:
    """The builder asked for: `PORTAL_BUILDER`, else `extra.portal.builder` in mkdocs.yml."""
    wanted = os.environ.get(VARIABLE, "").strip()
    if not wanted:
        from .settings import Settings

        wanted = Settings.load(config_file).builder
    return wanted.strip().lower() or "mkdocs"


def choose(config_file: Path, name: str | None = None) -> Builder:
    name = (name or requested(config_file)).strip().lower()
    if name not in NAMES:
        raise BuilderError(f"不认识的页面生成器“{name}”（mkdocs.yml 的 extra.portal.builder 或 BUILDER=）：可选 mkdocs、properdocs、zensical")
    if name == "mkdocs":
        return Builder(name)
    return Builder(name, interpreter(name))


def interpreter(name: str) -> Path:
    """The builder's own environment (`make setup-<name>`), else this one if it has the builder."""
    own = REPO / f".venv-{name}" / "bin" / "python"
    if own.exists():
        return own
    if importlib.util.find_spec(name) is not None:
        return Path(sys.executable)
    raise BuilderError(f"没有安装页面生成器 {LABELS[name]}：请运行 make site BUILDER={name}（自动安装到 .venv-{name}）")


# -- MkDocs' programming interface (MkDocs here, ProperDocs in its own process) -------------------


def api_build(config_file: str, docs: str, out: str, dirty: bool, overrides: dict[str, Any]) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    source = logging.getLogger("mkdocs.commands.build")  # filters apply where a record is made
    if not any(isinstance(f, _DirtyNotice) for f in source.filters):
        source.addFilter(_DirtyNotice())
    config = load_config(config_file=config_file, docs_dir=docs, site_dir=out, **overrides)
    _list_without_dot_folders(config.theme)
    config.plugins.on_startup(command="build", dirty=dirty)
    try:
        build(config, dirty=dirty)
    finally:
        config.plugins.on_shutdown()


def _list_without_dot_folders(theme: Any) -> None:
    """MkDocs lists the theme's files to copy its static ones, and drops every name in a folder
    starting with "." (Material's 14,000 icons in `.icons`) only after Jinja walked them all and
    matched each against its patterns: 0.13 s of each render. The same list without walking them."""
    get_env = theme.get_env

    def env_listing_quickly() -> Any:
        env = get_env()
        loader = env.loader
        if isinstance(getattr(loader, "searchpath", None), list):
            env.list_templates = partial(_templates, loader.searchpath)
        return env

    theme.get_env = env_listing_quickly


def _templates(roots: list[str], extensions: Any = None, filter_func: Any = None) -> list[str]:
    """jinja2.Environment.list_templates of a FileSystemLoader on `roots`, without dot folders."""
    found: set[str] = set()
    for root in roots:
        for folder, folders, files in os.walk(root, followlinks=True):
            folders[:] = [name for name in folders if not name.startswith(".")]
            relative = os.path.relpath(folder, root).replace(os.sep, "/")
            found.update(name if relative == "." else f"{relative}/{name}" for name in files)
    names = sorted(found)
    if extensions is not None:
        names = [name for name in names if "." in name and name.rsplit(".", 1)[1] in extensions]
    return [name for name in names if filter_func(name)] if filter_func is not None else names


class _DirtyNotice(logging.Filter):
    """MkDocs warns that dirty builds may leave navigation stale; ours are cleared whenever the
    theme or navigation changes (build.py), so the warning would only alarm admins."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'dirty' build" not in record.getMessage()


# -- Zensical ------------------------------------------------------------------------------------


class _Tagged:
    """A YAML value with a tag (`!ENV [...]`, `!!python/name:...`), written back unchanged."""

    def __init__(self, node: Any):
        self.node = node


def zensical_config(config_file: Path, docs: Path, out: Path, folder: Path, overrides: dict[str, Any]) -> str:
    """mkdocs.yml as Zensical is to read it in `folder`: this build's folders (relative, as
    Zensical wants them inside its project folder), the theme's overrides by absolute path,
    `overrides` applied, and no `hooks:` (Zensical does not run them)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    class Dumper(yaml.SafeDumper):
        pass

    def keep(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tagged:
        return _Tagged(node)

    Loader.add_multi_constructor("!", keep)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", keep)
    Dumper.add_representer(_Tagged, lambda dumper, data: data.node)
    config = yaml.load(config_file.read_text(encoding="utf-8"), Loader=Loader) or {}  # noqa: S506 - safe loader subclass
    config.pop("hooks", None)
    config.update(overrides)
    config["docs_dir"] = docs.relative_to(folder).as_posix()
    config["site_dir"] = out.relative_to(folder).as_posix()
    theme = config.get("theme")
    if isinstance(theme, dict):
        theme.setdefault("variant", "classic")  # Material's look; Zensical's own is "modern"
        if isinstance(theme.get("custom_dir"), str):
            theme["custom_dir"] = str((config_file.parent / theme["custom_dir"]).resolve())
    text: str = yaml.dump(config, Dumper=Dumper, allow_unicode=True, sort_keys=False)
    return text


def main(argv: list[str]) -> int:
    """ProperDocs' process: `python -m portal.builders '<request as JSON>'`; for the Makefile,
    `--which mkdocs.yml` prints the builder to set up (an unknown name is refused by the build)."""
    if argv[:1] == ["--which"]:
        try:
            name = requested(Path(argv[1]))
        except Exception:  # noqa: BLE001 - a broken mkdocs.yml is reported by the build that follows
            name = "mkdocs"
        print(name if name in NAMES else "mkdocs")
        return 0
    request = json.loads(argv[0])
    logging.basicConfig(format="%(levelname)s - %(message)s", level=logging.WARNING)
    import properdocs.replacement  # noqa: F401 - from here on `import mkdocs…` is ProperDocs

    try:
        api_build(request["config_file"], request["docs"], request["out"], request["dirty"], request["overrides"])
    except Exception as error:  # noqa: BLE001 - the traceback for developers, then one line for the parent
        import traceback

        traceback.print_exc()
        print(f"{type(error).__name__}: {error}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
