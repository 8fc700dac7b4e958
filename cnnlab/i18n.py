"""The course's two languages: English (the source) and Simplified Chinese.

Messages are written in English and passed through :func:`translate` where a student sees them;
``N_("...")`` marks a constant for extraction. Translations are a standard gettext catalog,
``cnnlab/locale/zh_CN/LC_MESSAGES/cnnlab.po``, compiled to ``.mo`` by ``make release``.

The language is, first found:

1. ``$COURSE_LANG`` (``en`` or ``zh``; the grader sets it from the submitted notebook);
2. the language recorded in the open notebook's metadata (JupyterLab tells the kernel
   which notebook it belongs to through ``$JPY_SESSION_NAME``);
3. a ``.course-language`` file in the working directory or a parent (``course-zh/`` has one);
4. English.
"""

from __future__ import annotations

import gettext as _gettext
import json
import os
import re
from functools import cache, lru_cache
from pathlib import Path

LANG_ENV = "COURSE_LANG"
LANGUAGES = ("en", "zh")
LOCALES = {"zh": "zh_CN"}  # course language -> gettext locale folder
MARKER_FILE = ".course-language"
METADATA_KEY = "cnn_course"  # notebook metadata: {"cnn_course": {"language": "zh"}}
_override: str | None = None


def normalise(value: str | None) -> str | None:
    """``"zh"``, ``"zh_CN.UTF-8"``, ``"zh-Hans"`` -> ``"zh"``; ``"en..."`` -> ``"en"``; else None."""
    text = (value or "").strip().lower().replace("-", "_")
    for lang in LANGUAGES:
        if text == lang or text.startswith(lang + "_") or text.startswith(lang + "."):
            return lang
    return None


def notebook_language(metadata: dict) -> str:
    """The language a notebook's metadata records (English when it records none)."""
    entry = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return (normalise(entry.get("language")) if isinstance(entry, dict) else None) or "en"


def _session_language() -> str | None:
    return _notebook_file_language(os.environ.get("JPY_SESSION_NAME", ""))


@lru_cache(maxsize=8)
def _notebook_file_language(path: str) -> str | None:
    """The language of the notebook at ``path``: absolute, or relative to the server's root (a parent of cwd)."""
    if not path.endswith(".ipynb"):
        return None
    here = Path.cwd()
    for candidate in [Path(path)] + [folder / path for folder in (here, *here.parents)]:
        try:
            with candidate.open(encoding="utf-8") as fh:
                return notebook_language(json.load(fh).get("metadata", {}))
        except (OSError, ValueError, AttributeError):
            continue
    return None


@lru_cache(maxsize=8)
def _marker_language(start: Path) -> str | None:
    for folder in (start, *start.parents):
        marker = folder / MARKER_FILE
        try:
            if marker.is_file():
                return normalise(marker.read_text(encoding="utf-8"))
        except OSError:
            return None
    return None


def language() -> str:
    """The language messages are written in now: ``"en"`` or ``"zh"``."""
    if _override:
        return _override
    return (normalise(os.environ.get(LANG_ENV)) or _session_language()
            or _marker_language(Path.cwd()) or "en")


def use_language(lang: str | None) -> None:
    """Write messages in ``lang`` from now on (``None``: detect it again)."""
    global _override
    if lang is not None and normalise(lang) is None:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    _override = normalise(lang) if lang else None


@cache
def catalog(domain: str, localedir: str, lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``domain`` for ``lang`` (English: no catalog, the source itself)."""
    if lang not in LOCALES:
        return _gettext.NullTranslations()
    return _gettext.translation(domain, localedir, languages=[LOCALES[lang]], fallback=True)


_LOCALEDIR = str(Path(__file__).resolve().parent / "locale")


def N_(message: str) -> str:  # noqa: N802  (the gettext convention)
    """Mark a constant for translation without translating it yet."""
    return message


# -- messages composed at run time ---------------------------------------------------------------
# A failure message is often an f-string: ``f"expected {want}, got {got}"``. The extractor records it
# as the template ``"expected {0}, got {1}"``; :func:`translate` matches a finished English line
# against the templates, translates the pieces it captured, and fills the Chinese template.
PLACEHOLDER = re.compile(r"\{(\d+)\}")


@cache
def _templates(lang: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    table = getattr(catalog("cnnlab", _LOCALEDIR, lang), "_catalog", {})
    found = []
    for msgid, msgstr in table.items():
        if isinstance(msgid, str) and msgstr and PLACEHOLDER.search(msgid):
            pieces = PLACEHOLDER.split(msgid)  # literal, index, literal, index, ...
            pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<g{p}>.+?)" for i, p in enumerate(pieces))
            found.append((len(PLACEHOLDER.sub("", msgid)), pieces[0], re.compile(pattern + r"\Z", re.S), msgstr))
    found.sort(key=lambda t: -t[0])  # the most specific template first
    return tuple((prefix, pattern, msgstr) for _, prefix, pattern, msgstr in found)


def _fill(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda g: values.get(g.group(1), g.group(0)), template)


def _line(text: str, lang: str, depth: int) -> str:
    stripped = text.strip()
    if not stripped or depth > 3:
        return text
    table = catalog("cnnlab", _LOCALEDIR, lang)
    done = table.gettext(stripped)
    if done == stripped:
        for prefix, pattern, msgstr in _templates(lang):
            m = stripped.startswith(prefix) and pattern.match(stripped)
            if m:
                done = _fill(msgstr, {k[1:]: _line(v, lang, depth + 1) for k, v in m.groupdict().items()})
                break
    if done == stripped:
        return text
    start = text[: len(text) - len(text.lstrip())]
    return start + done + text[len(text.rstrip()):]


def translate(text: str, lang: str | None = None) -> str:
    """A finished English message in ``lang`` (default: the current language), line by line.

    Lines no catalog entry matches stay English.
    """
    lang = lang or language()
    if lang not in LOCALES or not text:
        return text
    whole = catalog("cnnlab", _LOCALEDIR, lang).gettext(text)
    if whole != text:
        return whole
    return "\n".join(_line(line, lang, 0) for line in text.split("\n"))

__all__ = ["LANGUAGES", "LANG_ENV", "N_", "catalog", "language", "normalise", "notebook_language",
           "translate", "use_language"]
