"""Translations: Vietnamese is the source language; other languages come from .po files.

The .po files are the only source: they are compiled to .mo at start into the box's data dir,
so the package needs no build step and stays read-only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("vi", "en")
DEFAULT = "vi"


def compile_translations(target: Path) -> Path:
    """Compile every shipped .po into target/<lang>/LC_MESSAGES/messages.mo; return target."""
    source = resources.files("ui").joinpath("translations")
    for lang in LANGUAGES:
        po = source.joinpath(lang, "LC_MESSAGES", "messages.po")
        if not po.is_file():
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        out = target / lang / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "messages.mo.tmp"
        with open(tmp, "wb") as handle:
            write_mo(handle, catalog)
        tmp.replace(out / "messages.mo")
    return target
