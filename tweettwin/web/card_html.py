"""A model card (the folder's README.md) as a small HTML page, front matter left out."""

from __future__ import annotations

import html
from pathlib import Path

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}table{border-collapse:collapse;display:block;overflow-x:auto}"
    "code{overflow-wrap:anywhere}"
    "td,th{border:1px solid #ccc;padding:.2rem .5rem}pre{overflow:auto;background:#f5f5f5}"
)


def card_markdown(model_dir: Path) -> str:
    readme = model_dir / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
    else:
        from tweettwin.publish.card import render_card

        text = render_card(model_dir)
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4 :] if end > 0 else text
    return text


def card_page(name: str, model_dir: Path) -> str:
    from markdown_it import MarkdownIt

    body = (
        MarkdownIt("commonmark", {"html": False}).enable("table").render(card_markdown(model_dir))
    )
    # the card links its picture as "preview.png": it lives beside this page's URL
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(name)} · model card</title><style>{STYLE}</style>"
        f"<p><a href='/'>← tweettwin</a></p>{body}</html>"
    )
