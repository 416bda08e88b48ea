"""The English catalog: every wrapped UI string has an English translation, and the English UI shows no Vietnamese.

Vietnamese is the source language: the code wraps Vietnamese text in `_()`, and English comes from
ui/translations/en/LC_MESSAGES/messages.po. The catalog is extracted from the sources here, with the
mapping of babel.cfg, so a page added without its English fails this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import normalize, read_po
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient

from edge import intake
from edge.box import Box, open_box
from edge.config import Settings
from edge.procedures import list_procedures
from edge.users import User, list_users
from tests.conftest import PASSWORD, FakeClock, applicant, dossier_body
from ui.app import create_app
from ui.i18n import compile_translations

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "ui"  # babel.cfg's patterns are relative to this directory
PO_FILE = SOURCES / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# Letters that occur in Vietnamese and not in English text.
VIETNAMESE = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ]"
)
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
# Shown in Vietnamese on purpose: the switch back to Vietnamese names its language in Vietnamese.
UI_IN_VIETNAMESE = ("Tiếng Việt",)


Key = tuple[str | None, str]  # (context, msgid): a pgettext context keeps two meanings of one text apart


@cache
def source_messages() -> dict[Key, list[str]]:
    """Return every message the UI code wraps, with where it is (babel's extraction, babel.cfg's mapping)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(ROOT / "babel.cfg"))  # type: ignore[no-untyped-call]
    found: dict[Key, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(str(SOURCES), method_map, options_map):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault((context, msgid), []).append(f"ui/{filename}:{lineno}")
    return found


def english() -> Catalog:
    """Return the English catalog as shipped."""
    with open(PO_FILE, "rb") as handle:
        return read_po(handle, locale="en", abort_invalid=True)


def translations(catalog: Catalog) -> dict[Key, str]:
    """Return (context, msgid) -> msgstr of the catalog's messages (each form of a plural on its own)."""
    out: dict[Key, str] = {}
    for message in catalog:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string or ("",))
        for i, msgid in enumerate(ids):
            out[(message.context, msgid)] = strings[min(i, len(strings) - 1)] or ""
    return out


def po_entry(key: Key, where: list[str]) -> str:
    """Return a .po entry to fill in for a message."""
    context, msgid = key
    lines = [f"#: {' '.join(where[:3])}"]
    if PLACEHOLDER.search(msgid):
        lines.append("#, python-format")
    if context is not None:
        lines.append(f"msgctxt {normalize(context)}")
    lines += [f"msgid {normalize(msgid, width=76)}", 'msgstr ""']
    return "\n".join(lines) + "\n"


def placeholders(text: str) -> list[str]:
    """Return the printf-style placeholders of a text, sorted (%% included)."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text))


# --- the catalog ---------------------------------------------------------------------------------


def test_the_mapping_finds_python_and_jinja_messages_with_keyword_arguments() -> None:
    found = source_messages()
    assert (None, "Tổng quan") in found  # python: ui/web/__init__.py
    assert (None, "Tiếp nhận hồ sơ mới") in found  # jinja: {{ _("…") }}
    assert (None, "Tìm kiếm (mã hồ sơ, họ tên, số CCCD, số điện thoại; gõ không dấu được)") in found
    # jinja, with keyword arguments: {{ _("Hồ sơ %(code)s", code=d.code) }}
    assert any(".html:" in where for where in found[(None, "Hồ sơ %(code)s")])
    assert any(".html:" in where for where in found[(None, "Đã tiếp nhận hồ sơ %(code)s")])


def test_every_message_in_the_code_has_english() -> None:
    shipped = translations(english())
    missing = {key: where for key, where in source_messages().items() if not shipped.get(key, "").strip()}
    entries = "\n".join(po_entry(key, where) for key, where in sorted(missing.items(), key=lambda item: item[0][1]))
    assert not missing, (
        f"{len(missing)} messages have no English; add them to {PO_FILE.relative_to(ROOT)}:\n\n{entries}"
    )


def test_the_catalog_holds_no_message_the_code_no_longer_uses() -> None:
    used = source_messages()
    stale = sorted(msgid for context, msgid in translations(english()) if (context, msgid) not in used)
    assert not stale, f"remove these entries from {PO_FILE.relative_to(ROOT)}: {stale}"


def test_no_entry_is_fuzzy_or_obsolete() -> None:
    catalog = english()
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert not catalog.obsolete


def test_placeholders_match() -> None:
    wrong = {
        msgid: msgstr
        for (_context, msgid), msgstr in translations(english()).items()
        if msgstr and placeholders(msgid) != placeholders(msgstr)
    }
    assert not wrong, wrong
    problems = [(m.id, errors) for m, errors in english().check()]
    assert not problems, problems


def test_no_translation_is_a_vietnamese_copy() -> None:
    shipped = {msgid: msgstr for (_context, msgid), msgstr in translations(english()).items()}
    copies = [
        msgid for msgid, msgstr in shipped.items() if VIETNAMESE.search(msgid) and msgstr.strip() == msgid.strip()
    ]
    assert not copies, copies
    # Stricter: English text has no Vietnamese letters at all (a half-translated or pasted msgstr).
    vietnamese = {msgid: msgstr for msgid, msgstr in shipped.items() if VIETNAMESE.search(msgstr)}
    assert not vietnamese, vietnamese


def test_the_catalog_compiles_and_is_used(tmp_path: Path) -> None:
    target = compile_translations(tmp_path)
    mo = target / "en" / "LC_MESSAGES" / "messages.mo"
    assert mo.stat().st_size > 0
    loaded = Translations.load(str(target), ["en"])
    assert loaded.gettext("Đăng nhập") == "Sign in"
    assert loaded.gettext("Hồ sơ %(code)s") % {"code": "X"} == "Dossier X"


# --- the English UI --------------------------------------------------------------------------------


class _Text(HTMLParser):
    """Collect what a person sees or hears of a page: text and the visible attributes, not scripts."""

    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "label")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts.extend(value for name, value in attrs if name in self.ATTRIBUTES and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data)


def visible(page: str) -> list[str]:
    """Return the visible bits of text of a page (entities decoded)."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    return parser.parts


def vietnamese_ui_text(page: str, data: list[str]) -> list[str]:
    """Return the bits of a page's visible text in Vietnamese once the data (names, catalogue…) is taken out."""
    left = []
    for part in visible(page):
        for value in data:
            part = part.replace(value, " ")
        if VIETNAMESE.search(part):
            left.append(" ".join(part.split()))
    return left


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


def data_of(box: Box) -> list[str]:
    """Return the texts that are data, not UI: the box's name, people, the catalogue, the citizens' input."""
    db = box.db()
    values: set[str] = {box.settings.name, *UI_IN_VIETNAMESE}
    values |= {str(u["full_name"]) for u in list_users(db) if u["full_name"]}
    for proc in list_procedures(db):
        values |= {proc.name, proc.field, *(f.name for f in proc.fees), *(d.name for d in proc.documents)}
    values |= {str(v) for v in applicant().values() if isinstance(v, str)}
    values |= {str(d["name"]) for d in dossier_body()["documents"]}  # type: ignore[attr-defined]
    values |= {str(o["note"]) for o in box.overrides() if o["note"]}
    return sorted(values, key=len, reverse=True)  # the longest first: a name inside another is taken out last


def english_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.get("/lang/en").status_code == 302
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.text
    return client


def test_english_pages_show_no_vietnamese_outside_data(app: Flask, officer: User) -> None:
    box: Box = app.extensions["box"]
    received = intake.receive_dossier(box, officer, dossier_body())
    intake.receive_dossier(box, officer, dossier_body(channel="online"))
    code = received["code"]
    data = data_of(box)

    login_page = app.test_client()
    login_page.get("/lang/en")
    page = login_page.get("/login").text
    assert '<html lang="en">' in page and {"Sign in", "Username"} <= set(visible(page))
    assert vietnamese_ui_text(page, data) == []

    client = english_client(app, "canbo")
    pages = {
        "/": ("Today's overview", "Overview", "Receive dossier", "Dossiers", "Sign out"),
        "/intake": ("Receive dossier", "Procedure", "Applicant", "Citizen ID", "Save", "Cancel"),
        "/intake?procedure=1.001193": ("Expected due date", "Documents received", "Fees and charges"),
        "/dossiers": ("Dossiers", "Dossier code", "Due date", "Filter", "Search"),
        f"/dossiers/{code}": (f"Dossier {code}", "Applicant", "Processing history", "Transfer", "Refuse"),
        "/reports": ("Reports and statistics", "On-time rate", "Download Excel", "Dossier logbook"),
        "/reports?by=procedure": ("By procedure", "Total"),
        "/sync": ("Sync", "Not configured", "Sync: not configured"),
        "/no-such-page": ("Not found", "There is no such page."),
    }
    for path, expected in pages.items():
        resp = client.get(path, headers={"Accept": "text/html"})
        assert '<html lang="en">' in resp.text, path
        shown = " ".join(visible(resp.text))
        for text in expected:
            assert text in shown, (path, text)
        assert vietnamese_ui_text(resp.text, data) == [], path

    admin = english_client(app, "quantri")
    admin.post("/admin/calendar", data={"day": "2026-12-05", "kind": "working", "note": "Làm bù"})
    data = data_of(box)
    for path, expected in {
        "/admin": ("Administration", "Users", "Add user", "Working hours", "Working calendar updated."),
        "/devices": ("Devices", "Card terminal", "Device settings"),
        "/sync": ("Sync",),
    }.items():
        page = admin.get(path).text
        shown = " ".join(visible(page))
        for text in expected:
            assert text in shown, (path, text)
        assert vietnamese_ui_text(page, data) == [], path


def test_vietnamese_stays_the_default(app: Flask) -> None:
    client = app.test_client()
    client.post("/login", data={"username": "canbo", "password": PASSWORD})
    page = client.get("/dossiers").text
    assert '<html lang="vi">' in page and "Danh sách hồ sơ" in page and "Dossiers" not in page
