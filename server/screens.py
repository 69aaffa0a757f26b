"""Rendering a screen: its template plus the page data the browser script reads
(``Novbe.page``: language, the words in three languages, and what the view adds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import render_template

from .i18n import catalog, pick_language


def render_screen(
    template: str, translations: Path, *, language: str | None = None, **data: Any
) -> str:
    lang = pick_language(language)
    page = {"language": lang, "i18n": catalog(translations), **data}
    return render_template(template, page=page, language=lang)
