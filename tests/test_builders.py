"""The same school built with each builder: MkDocs 1.6 (in this process), ProperDocs and Zensical
(each in its own environment, set up by `make test`). Every page the portal generates must be
there with the same main content, build after build; no builder may leak the shells' internal
address into canonical links or the sitemap, nor clean the portal's cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
from factories import make_project, write_meta
from fixture_tree import BASE, TERMS

from portal import builders, pipeline
from portal.build import require_pages
from portal.chrome import BODY, SHELLS, TITLE, Shell, ShellError, url_forms
from portal.project import Project

T1, T2 = TERMS
SITE_URL = "https://school.example/portal/"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SKIP_LINK = '<a id="__skip" tabindex="-1"></a>'  # Zensical's, inside the article


def main_content(html: str) -> str:
    """The page's article, whitespace folded: what a visitor reads, whatever frames it. The QR
    code box is left out: it shows the page's address when `site_url` is set (these builds set
    it, the reference build does not) and how to set it otherwise."""
    found = re.search(r"<article\b.*?</article>", html, re.S)
    assert found, "page without an article"
    article = re.sub(r'<aside class="portal-qr".*?</aside>', "", found.group(0), flags=re.S)
    return re.sub(r"\s+", " ", article.replace(SKIP_LINK, ""))


def site_pages(site: Path) -> dict[str, str]:
    """Every page of a site (its folder, relative) with its main content; 404.html aside."""
    pages = {}
    for path in site.rglob("index.html"):
        pages[path.parent.relative_to(site).as_posix()] = main_content(path.read_text(encoding="utf-8"))
    return pages


def needs_environment(name: str) -> None:
    if name != "mkdocs" and not (builders.REPO / f".venv-{name}" / "bin" / "python").exists():
        pytest.fail(f".venv-{name} is missing: `make test` (or `make setup-{name}`) creates it")


def school_like(built_project: Project, root: Path, name: str) -> Project:
    """The fixture school again, with `site_url` and the builder set in mkdocs.yml; its cache is
    a copy of the reference build's, so nothing is extracted again."""
    project = make_project(root)
    shutil.copytree(built_project.resources, project.resources, dirs_exist_ok=True)
    shutil.copytree(built_project.cache, project.cache)
    text = project.config_file.read_text(encoding="utf-8")
    assert "  portal:\n" in text
    text = text.replace("  portal:\n", f"  portal:\n    builder: {name}\n")
    project.config_file.write_text(f"site_url: {SITE_URL}\n" + text, encoding="utf-8")
    return project


def cache_files(project: Project) -> set[str]:
    return {p.relative_to(project.cache).as_posix() for p in project.cache.rglob("*") if p.is_file()}


def check_addresses(site: Path, pages: set[str]) -> None:
    """Canonical links name each page's own URL; the sitemap lists exactly the site's pages;
    no shell address in any form, anywhere."""
    for page in pages:
        html = (site / page / "index.html").read_text(encoding="utf-8")
        canonical = re.findall(r'<link rel="canonical" href="([^"]*)"', html)
        assert canonical == [SITE_URL + quote(f"{page}/" if page != "." else "")], page
        assert "%7E" not in html and "PortalShell" not in html and not any(form in html for form in url_forms(SHELLS)), page
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    locs = {loc.text for loc in ET.fromstring(sitemap).iter(f"{SITEMAP}loc")}
    assert locs == {SITE_URL + quote(f"{page}/" if page != "." else "") for page in pages}
    assert "%7E" not in sitemap and "shell" not in sitemap


@pytest.mark.parametrize("name", builders.NAMES)
def test_each_builder_builds_every_page_three_times_in_a_row(name: str, built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve, offline_page) -> None:
    needs_environment(name)
    monkeypatch.delenv(builders.VARIABLE, raising=False)
    reference_project, _, _ = built
    reference = site_pages(reference_project.site)
    assert len(reference) > 100 and {"r", "subjects", "points", "groups", "terms", "types", "stats"} <= {p.split("/")[0] for p in reference}
    project = school_like(reference_project, tmp_path / "school", name)
    for round_ in range(3):
        if round_ == 2:  # the third build fills the first build's slot again, with one more submission
            write_meta(project.resources / T2 / "新的微课", {**BASE, "title": "第三次构建新增的成果"})
        kept = cache_files(project)
        outcome = pipeline.build_site(project)
        assert outcome.cache is not None and outcome.cache.misses == 0, round_  # nothing extracted again
        assert kept <= cache_files(project), f"{name} removed cache files"  # the cache survives the builder's clean builds
        pages = site_pages(project.site.resolve())
        missing = sorted(set(reference) - set(pages))
        assert not missing, f"{name}, build {round_ + 1}: {len(missing)} pages missing, e.g. {missing[:3]}"
        if round_ < 2:  # the same submissions: every page reads as MkDocs' reference build
            differ = [p for p, text in reference.items() if pages[p] != text]
            assert not differ, f"{name}: main content differs on {differ[:3]}"
        check_addresses(project.site.resolve(), set(pages))
    assert outcome.pages_reused > 20  # the third build reused the first one's slot
    assert any("第三次构建新增的成果" in text for text in pages.values())
    assert not (project.root / ".cache").exists()  # a builder's own cache stays in .build/
    # The portal's search works on the site each builder made.
    server = serve(project.site)
    page = offline_page.page
    page.goto(server.url + "search/?q=" + quote("第三次构建"))
    page.wait_for_selector("[data-portal-search][data-ready]")
    page.locator("[data-portal-search] a", has_text="第三次构建新增的成果").first.click()
    page.wait_for_selector("h1:has-text('第三次构建新增的成果')")
    assert "/r/" in page.url


def test_a_page_deleted_from_a_slot_is_written_again(tmp_path: Path) -> None:
    """A slot's manifest lists the pages written into it; one that is gone since (a builder
    that cleaned the folder) must be written again, not trusted to be there."""
    project = make_project(tmp_path / "school")
    for n in range(3):
        write_meta(project.resources / T1 / f"s{n}", {**BASE, "title": f"成果{n}"})
    pipeline.build_site(project)
    first = project.site.resolve()
    pipeline.build_site(project)
    victim = next((first / "r").glob("*/index.html"))
    victim.unlink()
    outcome = pipeline.build_site(project)  # into the first slot again
    assert project.site.resolve() == first and victim.is_file() and outcome.pages_reused > 0


def test_a_site_missing_pages_is_an_error_naming_one(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "r" / "a").mkdir(parents=True)
    (site / "r" / "a" / "index.html").write_text("<h1>a</h1>", encoding="utf-8")
    require_pages(site, ["r/a/index.html"], builders.Builder("mkdocs"))
    with pytest.raises(builders.BuilderError, match=r"用 Zensical 生成的网站缺少 1 个页面（如 r/b/index.html）"):
        require_pages(site, ["r/a/index.html", "r/b/index.html"], builders.Builder("zensical", Path(sys.executable)))


def test_a_shell_address_left_in_another_form_is_refused() -> None:
    url = f"r/{SHELLS}/"
    for form in url_forms(url):  # either form is replaced by the page's URL
        shell = Shell.parse(f"<title>{TITLE}</title><link href='https://e/{form}'>{BODY}", url_forms(url))
        assert shell.fill("标题", "<h1>标题</h1>", "r/x/") == "<title>标题</title><link href='https://e/r/x/'><h1>标题</h1>"
    with pytest.raises(ShellError, match="无法替换的内部地址"):  # the address in a form no builder was known to write
        Shell.parse(f"<title>{TITLE}</title><a href='/{SHELLS}/x/'>{BODY}</a>", url_forms(url))


def test_builder_choice_and_its_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "school")
    monkeypatch.delenv(builders.VARIABLE, raising=False)
    assert builders.choose(project.config_file).name == "mkdocs"
    text = project.config_file.read_text(encoding="utf-8").replace("  portal:\n", "  portal:\n    builder: Zensical\n")
    project.config_file.write_text(text, encoding="utf-8")
    assert builders.requested(project.config_file) == "zensical"
    monkeypatch.setenv(builders.VARIABLE, "properdocs")  # make site BUILDER=… wins over mkdocs.yml
    assert builders.requested(project.config_file) == "properdocs"
    environment = {**os.environ, "PYTHONPATH": str(project.root / "scripts"), builders.VARIABLE: "hugo"}
    result = subprocess.run([sys.executable, "-m", "portal", "--root", str(project.root), "site"], env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "不认识的页面生成器“hugo”" in lines[0] and "Traceback" not in result.stderr


def test_zensical_config_keeps_tags_and_drops_hooks(tmp_path: Path) -> None:
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: !ENV [SCHOOL, 学校]\nhooks:\n  - x.py\ntheme:\n  name: material\n  custom_dir: overrides\nnav:\n  - a.md\n", encoding="utf-8")
    (tmp_path / ".build" / "docs").mkdir(parents=True)
    text = builders.zensical_config(config, tmp_path / ".build" / "docs", tmp_path / ".build" / "out", tmp_path / ".build", {"nav": [{"首页": "index.md"}]})
    assert "site_name: !ENV [SCHOOL, 学校]" in text.replace("'", "")
    assert "hooks" not in text and "a.md" not in text and "首页: index.md" in text
    assert "docs_dir: docs" in text and "site_dir: out" in text and f"custom_dir: {tmp_path / 'overrides'}" in text
    assert "variant: classic" in text


def test_the_old_cache_folder_is_moved_once(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    (ours / ".cache").mkdir(parents=True)
    (ours / ".cache" / "artefacts.sqlite").write_bytes(b"rows")
    (ours / ".cache" / "ab12.pdf").write_bytes(b"preview")
    cache = Project(ours).cache
    assert cache == ours / ".portal-cache" and (cache / "ab12.pdf").read_bytes() == b"preview"
    assert not (ours / ".cache").exists()
    theirs = tmp_path / "theirs"  # a .cache/ of another program's (Zensical's own) stays
    (theirs / ".cache" / "plugin").mkdir(parents=True)
    assert not Project(theirs).cache.exists() and (theirs / ".cache" / "plugin").is_dir()


def test_the_quick_theme_listing_is_what_mkdocs_copies_from_the_theme(tmp_path: Path) -> None:
    """MkDocs copies the theme's static files from Jinja's list of templates, filtered; ours skips
    walking dot folders (Material's icons) and must give MkDocs the same files."""
    from factories import make_project
    from mkdocs.config import load_config
    from mkdocs.structure.files import Files

    from portal.builders import _list_without_dot_folders

    project = make_project(tmp_path / "school")
    (project.root / "overrides" / ".hidden").mkdir()  # a dot folder of the school's own overrides too
    (project.root / "overrides" / ".hidden" / "x.css").write_text("", encoding="utf-8")
    (project.root / "overrides" / "assets" / "extra.css").write_text("", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    listed = []
    for quick in (False, True):
        config = load_config(config_file=str(project.config_file), docs_dir=str(docs), site_dir=str(tmp_path / "site"))
        if quick:
            _list_without_dot_folders(config.theme)
        files = Files([])
        files.add_files_from_theme(config.theme.get_env(), config)
        listed.append(sorted(f.src_uri for f in files))
    assert listed[0] == listed[1] and "assets/extra.css" in listed[0] and len(listed[0]) > 20
