"""Briefings for the school's WeChat official account (公众号), from the built site.

The 公众号 editor keeps inline styles and drops classes, ids, scripts, external CSS and SVG, and
cannot reach a campus server for images. So each briefing becomes one self-contained HTML page:
every element styled inline, no class/id/script/style element, charts rendered to PNG by headless
Chromium (from the same SVG the site shows, so Chinese labels look the same), photos scaled to
the editor's width, every image embedded as a data: URI (the PNG/JPEG files are written beside it
too, for uploading by hand). A separate helper page, `reports/公众号复制.html`, shows every
briefing with a 复制正文 button that copies it as rich text for pasting.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree
from lxml import html as lxml_html

from .printing import browser

WIDTH = 677  # the 公众号 article column, in CSS pixels
PHOTO_MAX = 1080  # photos are scaled to at most this many pixels wide
FONT = "font-family:-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;"
STYLE = {
    "section": FONT + "font-size:16px;line-height:1.75;color:#222;letter-spacing:0.5px;",
    "h1": "font-size:22px;font-weight:bold;line-height:1.4;margin:0 0 16px;color:#00695c;",
    "h2": "font-size:18px;font-weight:bold;margin:28px 0 12px;padding-left:10px;border-left:4px solid #00897b;color:#00695c;",
    "h3": "font-size:17px;font-weight:bold;margin:22px 0 10px;color:#00695c;",
    "h4": "font-size:16px;font-weight:bold;margin:18px 0 8px;",
    "p": "margin:0 0 14px;text-align:justify;",
    "ul": "margin:0 0 14px;padding-left:24px;",
    "ol": "margin:0 0 14px;padding-left:24px;",
    "li": "margin:4px 0;",
    "strong": "font-weight:bold;color:#00695c;",
    "em": "font-style:italic;",
    "blockquote": "margin:0 0 14px;padding:10px 14px;border-left:4px solid #b2dfdb;background:#f3faf9;color:#444;",
    "table": "border-collapse:collapse;width:100%;font-size:14px;margin:0 0 14px;",
    "caption": "font-size:14px;color:#555;padding:4px 0;text-align:left;",
    "th": "border:1px solid #ccd3da;padding:6px 8px;background:#e8f3f1;text-align:left;",
    "td": "border:1px solid #ccd3da;padding:6px 8px;text-align:center;",
    "figure": "margin:0 0 16px;text-align:center;",
    "figcaption": "font-size:14px;color:#555;",
    "img": "display:block;max-width:100%;height:auto;margin:0 auto;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:14px;background:#f3f4f6;padding:0 4px;",
    "hr": "border:none;border-top:1px solid #ddd;margin:20px 0;",
    "div": "margin:0 0 14px;",
    "span": "",
}
DROP = ("svg", "script", "style", "link", "noscript", "template", "iframe", "object", "embed", "button", "form", "input", "nav")
KEEP_ATTRIBUTES = {"style", "src", "alt", "colspan", "rowspan", "width", "height"}


class WechatError(RuntimeError):
    """The export could not be made; the message (Chinese) says why and what to do."""


@dataclass(frozen=True)
class Exported:
    name: str
    title: str
    page: Path
    body: str  # the article's inner HTML, as pasted
    notes: tuple[str, ...] = ()  # what could not be exported (a damaged photo), for the admin


def _article(text: str, page: Path) -> etree._Element:
    tree = lxml_html.fromstring(text)
    found = tree.xpath("//article")
    if not found:
        raise WechatError(f"{page} 中没有找到简报正文，请重新运行 make site")
    return found[0]


CHART = re.compile(r'<svg\b[^>]*\bclass="portal-chart"[^>]*>.*?</svg>', re.S)


def _render_svg(svg: str, target: Path, binary: str) -> None:
    """A chart's SVG (as the site has it, well-formed XML) as a PNG at twice the article width,
    drawn by headless Chromium from a standalone .svg file, where its own stylesheet applies."""
    view = re.search(r'viewBox="\s*[\d.\-]+[\s,]+[\d.\-]+[\s,]+([\d.]+)[\s,]+([\d.]+)\s*"', svg)
    ratio = float(view.group(2)) / float(view.group(1)) if view and float(view.group(1)) > 0 else 0.6
    height = max(1, round(WIDTH * ratio))
    with tempfile.TemporaryDirectory(prefix="portal-wechat-") as scratch:
        (Path(scratch) / "chart.svg").write_text('<?xml version="1.0" encoding="utf-8"?>\n' + svg, encoding="utf-8")
        source = Path(scratch) / "chart.html"
        source.write_text('<!doctype html><meta charset="utf-8"><style>html,body{margin:0;background:#fff;overflow:hidden}</style>'
                          f'<img src="chart.svg" width="{WIDTH}" height="{height}" style="display:block">', encoding="utf-8")
        subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={scratch}/profile",
             "--hide-scrollbars", "--force-device-scale-factor=2", f"--window-size={WIDTH},{height}",
             f"--screenshot={target}", source.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    if not target.exists():
        raise WechatError("chromium 没有生成图表图片，请确认已安装 chromium 和 fonts-noto-cjk")


def _photo(source: Path, target: Path) -> Path:
    """A photo scaled to at most PHOTO_MAX pixels wide, metadata dropped; JPEG unless it has
    transparency."""
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image)
        if image.width > PHOTO_MAX:
            image = image.resize((PHOTO_MAX, round(image.height * PHOTO_MAX / image.width)))
        if image.mode in ("RGBA", "LA", "P"):
            target = target.with_suffix(".png")
            image.save(target, "PNG", optimize=True)
        else:
            target = target.with_suffix(".jpg")
            image.convert("RGB").save(target, "JPEG", quality=85, optimize=True)
    return target


def _data_uri(path: Path) -> str:
    kind = "image/png" if path.suffix == ".png" else "image/jpeg"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _local_file(page: Path, site: Path, src: str) -> Path | None:
    """The site file an <img src> names, if it is one (never outside the site)."""
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = (page.parent / unquote(parts.path)).resolve()
    return path if path.is_file() and path.is_relative_to(site.resolve()) else None


def _clean(article: etree._Element) -> None:
    """Drop what the editor strips or what means nothing outside the site; style what stays."""
    for element in article.xpath(".//comment() | .//processing-instruction()"):
        element.getparent().remove(element)
    for tag in DROP:
        for element in article.xpath(f".//{tag}"):
            element.drop_tree()
    for element in article.xpath(".//a[contains(concat(' ', @class, ' '), ' headerlink ')]"):
        element.drop_tree()
    for element in article.xpath(".//a"):  # the editor drops links to other sites: keep the words
        element.drop_tag()
    for element in article.iter():
        if not isinstance(element.tag, str):
            continue
        kept = element.get("style", "")
        for name in list(element.attrib):
            if name not in KEEP_ATTRIBUTES:
                del element.attrib[name]
        base = STYLE.get(element.tag, "")
        style = base + kept if kept else base
        if style:
            element.set("style", style)
        elif "style" in element.attrib:
            del element.attrib["style"]


def export_briefing(page: Path, site: Path, out: Path, binary: str) -> Exported:
    name = page.parent.name
    assets = out / name
    assets.mkdir(parents=True, exist_ok=True)
    text = page.read_bytes().decode("utf-8")
    article = _article(text, page)
    charts = CHART.findall(text)
    for number, (svg, markup) in enumerate(zip(article.xpath(".//svg[contains(@class, 'portal-chart')]"), charts), start=1):
        title = svg.get("aria-label") or "统计图"
        target = assets / f"图表{number}.png"
        _render_svg(markup, target, binary)
        svg.getparent().replace(svg, etree.Element("img", src=_data_uri(target), alt=title))
    notes: list[str] = []
    for number, image in enumerate(article.xpath(".//img[not(starts-with(@src, 'data:'))]"), start=1):
        source = _local_file(page, site, image.get("src", ""))
        try:
            if source is None:
                raise ValueError("not a file of the site")
            image.set("src", _data_uri(_photo(source, assets / f"照片{number}")))
        except (OSError, ValueError) as error:  # Pillow's UnidentifiedImageError is an OSError
            notes.append(f"图片“{unquote(image.get('src', ''))}”无法读取（{type(error).__name__}），未放入公众号版，请在编辑器中手动插入")
            image.drop_tree()
    _clean(article)
    heading = article.xpath("string(.//h1)").strip() or name
    section = etree.Element("section")
    section.text = article.text
    for child in list(article):
        section.append(child)
    _clean(section)
    body = etree.tostring(section, encoding="unicode", method="html")
    target = out / f"{name}.html"
    target.write_text(
        f'<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{html.escape(heading)}</title>\n</head>\n'
        f'<body style="margin:0;padding:16px;background:#fff;">\n<div style="max-width:{WIDTH}px;margin:0 auto;">\n{body}\n</div>\n</body>\n</html>\n',
        encoding="utf-8",
    )
    return Exported(name, heading, target, body, tuple(notes))


COPY_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>公众号简报：复制正文</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 0; background: #f4f5f7; color: #222; }}
header {{ background: #00695c; color: #fff; padding: 12px 20px; }}
main {{ max-width: 760px; margin: 0 auto; padding: 16px; }}
.tool {{ display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 24px 0 8px; }}
.tool h2 {{ font-size: 18px; margin: 0; flex: 1 1 auto; }}
button {{ font-size: 16px; padding: 8px 18px; border: 0; border-radius: 4px; background: #00695c; color: #fff; cursor: pointer; }}
button:focus-visible {{ outline: 3px solid #ff9800; outline-offset: 2px; }}
.done {{ color: #1b5e20; font-weight: bold; }}
.paper {{ background: #fff; padding: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
</style>
</head>
<body>
<header><h1 style="font-size:20px;margin:0">公众号简报：复制正文</h1></header>
<main>
<p>点击“复制正文”，再到公众号后台的图文编辑器中按 Ctrl+V 粘贴。图表已转为图片一并复制；若编辑器没有显示图片，请把 reports/wechat/ 对应文件夹中的图片手动上传。</p>
{items}
</main>
<script>
document.querySelectorAll("button[data-copy]").forEach(function (button) {{
  button.addEventListener("click", function () {{
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.nextElementSibling;
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try {{ ok = document.execCommand("copy"); }} catch (e) {{ ok = false; }}
    status.textContent = ok ? "已复制，可以粘贴到公众号编辑器" : "请按 Ctrl+C 复制已选中的正文";
  }});
}});
</script>
</body>
</html>
"""


def copy_page(exported: list[Exported]) -> str:
    items = []
    for number, item in enumerate(exported, start=1):
        items.append(
            f'<div class="tool"><h2>{html.escape(item.title)}</h2>'
            f'<button type="button" data-copy="wx{number}">复制正文</button><span class="done" role="status"></span></div>'
            f'<div class="paper" id="wx{number}">{item.body}</div>'
        )
    return COPY_PAGE.format(items="\n".join(items) or "<p>没有简报：在 content/briefings/ 中添加简报后重新运行 make site。</p>")


def wechat_exports(site: Path, reports: Path) -> tuple[list[Exported], Path]:
    """Every briefing of the built site for the 公众号 editor, and the copy helper page."""
    binary = browser()
    if binary is None:
        raise WechatError("未安装 chromium，无法把图表转为图片：请运行 apt-get install chromium fonts-noto-cjk")
    out = reports / "wechat"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    exported = [export_briefing(page, site, out, binary) for page in sorted((site / "briefings").glob("*/index.html"))]
    helper = reports / "公众号复制.html"
    helper.write_text(copy_page(exported), encoding="utf-8")
    return exported, helper

