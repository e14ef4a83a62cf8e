"""MkDocs hook (a fast path only): generated pages are already HTML, so skip Markdown for them.

A generated page's body is one block of escaped HTML. Python-Markdown would run it through its
HTML parser (measured: 60 % of a 10,000-resource build) only to hand it back unchanged. Pages
marked `portal: generated` in their front matter are swapped for a placeholder before Markdown
and restored after. Without this hook (another MkDocs-compatible builder) the same pages render
the same, only slower.
"""

from __future__ import annotations

from typing import Any

PLACEHOLDER = "PORTAL-GENERATED-HTML"
_stash: dict[str, str] = {}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.meta.get("portal") == "generated":
        _stash[page.file.src_uri] = markdown
        return PLACEHOLDER
    return markdown


def on_page_content(html: str, page: Any, **_: Any) -> str:
    body = _stash.pop(page.file.src_uri, None)
    if body is None:
        return html
    return html.replace(f"<p>{PLACEHOLDER}</p>", body, 1)



def on_env(env: Any, config: Any, **_: Any) -> Any:
    """Keep the theme's compiled templates between builds, as our own templates are (in the
    user's temp folder, keyed by each template's source): compiling Material's templates is most
    of a small rebuild's MkDocs time."""
    from jinja2 import FileSystemBytecodeCache

    env.bytecode_cache = FileSystemBytecodeCache()
    return env
