"""The `motcua` command-line contract, run as real subprocesses.

Every error ends with a non-zero exit code and exactly one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from edge import __version__, actions, catalogue, intake
from edge.box import Box, init_box, open_box
from edge.config import Settings, load_settings
from edge.errors import EdgeError
from edge.procedures import list_procedures, upsert_procedures
from edge.store.migrations import latest_version
from edge.users import User, add_user, authenticate, user_for_token
from tests.conftest import AGENCY, PASSWORD, FakeClock, dossier_body, read_url, stop_server

ROOT = Path(__file__).resolve().parents[1]
MOTCUA = Path(sys.executable).with_name("motcua")
NAME = "UBND xã Tân Lập"


def clean_env(**extra: str) -> dict[str, str]:
    """Return the test's environment without MOTCUA_* variables, plus extra ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    return env | extra


def motcua(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `motcua` script and return what it did."""
    return subprocess.run(
        [str(MOTCUA), *map(str, args)],
        capture_output=True,
        text=True,
        env=clean_env() if env is None else env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a run succeeded quietly on stderr; return its stdout."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a run failed the documented way; return the reason it printed."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("motcua: "), result.stderr
    assert result.stdout == ""
    return result.stderr.removeprefix("motcua: ").rstrip("\n")


def vietnamese(text: str) -> bool:
    """Return whether text has a letter outside ASCII (every Vietnamese message has ă, đ, ơ, ư or a tone)."""
    return any(ord(c) > 127 and unicodedata.category(c).startswith("L") for c in text)


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Return every path under root with its mode and content, to prove nothing changed."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        mode = path.stat().st_mode
        out[str(path.relative_to(root))] = (mode, path.read_bytes() if path.is_file() else None)
    return out


def rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    """Run one query on a fresh connection and close it."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def dossier_snapshot(db_path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Return the dossiers rows (every column but id) and their search texts, ordered by code."""
    columns = [r[1] for r in rows(db_path, "PRAGMA table_info(dossiers)") if r[1] != "id"]
    table = rows(db_path, f"SELECT {', '.join(columns)} FROM dossiers ORDER BY code")
    search = rows(db_path, "SELECT d.code, s.text FROM dossiers d JOIN dossier_search s ON s.rowid = d.id ORDER BY 1")
    return table, search


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build one box like conftest's box_settings (scrypt is slow), to be copied by each test."""
    settings = init_box(tmp_path_factory.mktemp("template") / "box", "00001", AGENCY, "UBND xã Thử Nghiệm")
    box = open_box(settings.data_dir)
    try:
        upsert_procedures(box.db(), catalogue.sample_catalogue())
        for username, role in (("canbo", "officer"), ("canbo2", "officer"), ("lanhdao", "leader")):
            add_user(box.db(), username, role, PASSWORD)
    finally:
        box.close()
    return settings.data_dir


@pytest.fixture
def box_settings(template: Path, tmp_path: Path) -> Settings:
    """Return a fresh copy of the template box (overrides conftest's fixture in this module)."""
    shutil.copytree(template, tmp_path / "box")
    return load_settings(tmp_path / "box", env={})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- init -----------------------------------------------------------------------------------------


def test_init_creates_a_box(tmp_path: Path) -> None:
    data = tmp_path / "xa-tan-lap"
    out = ok(motcua("init", "--data", data, "--commune-code", "12345", "--agency-code", AGENCY, "--name", NAME))
    assert out.count("\n") == 1 and NAME in out
    for name in ("motcua.toml", "motcua.db", "secrets.toml"):
        assert (data / name).is_file(), name
    assert (data / "blobs").is_dir()
    assert stat.S_IMODE((data / "secrets.toml").stat().st_mode) == 0o600
    config = tomllib.loads((data / "motcua.toml").read_text(encoding="utf-8"))
    assert config["box"] | {"box_id": "-"} == {
        "box_id": "-",
        "commune_code": "12345",
        "agency_code": AGENCY,
        "name": NAME,
    }
    settings = load_settings(data, env={})
    assert settings.box_id in out
    assert rows(settings.db_path, "SELECT count(*) FROM procedures")[0][0] == len(catalogue.sample_catalogue())
    assert rows(settings.db_path, "PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize("existing", ["motcua.toml", "motcua.db", "secrets.toml", "whole box"])
def test_init_never_overwrites_a_box(tmp_path: Path, existing: str) -> None:
    data = tmp_path / "box"
    if existing == "whole box":
        ok(motcua("init", "--data", data, "--commune-code", "12345", "--agency-code", AGENCY, "--name", NAME))
    else:
        data.mkdir()
        (data / existing).write_bytes(b"# keep me\n")
    before = tree(data)
    reason = failed(motcua("init", "--data", data, "--commune-code", "54321", "--agency-code", AGENCY, "--name", "X"))
    assert "không ghi đè" in reason and str(data) in reason
    assert tree(data) == before


@pytest.mark.parametrize(
    ("commune", "agency", "name", "says"),
    [
        ("1234", AGENCY, NAME, "Mã xã"),
        ("12a45", AGENCY, NAME, "Mã xã"),
        pytest.param("１２３４５", AGENCY, NAME, "Mã xã", id="full-width-digits"),
        pytest.param("12345\n", AGENCY, NAME, "Mã xã", id="commune-newline"),
        ("12345", "000 17 22 H56", NAME, "Mã định danh cơ quan"),
        ("12345", "H56", NAME, "Mã định danh cơ quan"),
        pytest.param("12345", AGENCY + "\n", NAME, "Mã định danh cơ quan", id="agency-newline"),
        pytest.param("12345", AGENCY, "UBND xã\nTân Lập", "Tên đơn vị", id="name-newline"),
        pytest.param("12345", AGENCY, "UBND xã\x01", "Tên đơn vị", id="name-control"),
        ("12345", AGENCY, "   ", "Tên đơn vị"),
    ],
)
def test_init_refuses_bad_codes(tmp_path: Path, commune: str, agency: str, name: str, says: str) -> None:
    data = tmp_path / "box"
    reason = failed(motcua("init", "--data", data, "--commune-code", commune, "--agency-code", agency, "--name", name))
    assert reason.startswith(says) and vietnamese(reason)
    assert not data.exists()


# --- users and tokens -----------------------------------------------------------------------------


def test_user_add(box_settings: Settings) -> None:
    add = ("user", "add", "--data", box_settings.data_dir)
    out = ok(motcua(*add, "thuky", "--role", "officer", "--password", "mat-khau-moi", "--full-name", "Đỗ Thị Thu"))
    assert out.count("\n") == 1 and "thuky" in out
    box = open_box(box_settings.data_dir)
    try:
        user = authenticate(box.db(), "thuky", "mat-khau-moi")
    finally:
        box.close()
    assert (user.username, user.role, user.full_name) == ("thuky", "officer", "Đỗ Thị Thu")


@pytest.mark.parametrize(
    ("username", "role", "password", "says"),
    [
        ("moi", "boss", PASSWORD, "Vai trò phải là một trong: officer, leader, admin, technician, kiosk."),
        ("moi", "officer", "1234567", "Mật khẩu phải có ít nhất 8 ký tự."),
        ("canbo", "officer", PASSWORD, "Đã có người dùng “canbo”."),
        ("Cán-Bộ", "officer", PASSWORD, "Tên đăng nhập"),
        pytest.param("canbo\n", "officer", PASSWORD, "Tên đăng nhập", id="username-newline"),
    ],
    ids=["bad-role", "short-password", "duplicate", "bad-username", "username-newline"],
)
def test_user_add_refuses(box_settings: Settings, username: str, role: str, password: str, says: str) -> None:
    users = "SELECT username, role, password_hash FROM users ORDER BY username"
    before = rows(box_settings.db_path, users)
    add = ("user", "add", "--data", box_settings.data_dir)
    reason = failed(motcua(*add, username, "--role", role, "--password", password))
    assert reason.startswith(says)
    assert rows(box_settings.db_path, users) == before


def test_token_create_prints_only_the_token(box_settings: Settings) -> None:
    out = ok(motcua("token", "create", "--data", box_settings.data_dir, "lanhdao"))
    assert re.fullmatch(r"mc_[A-Za-z0-9_-]{32,}\n", out), out
    box = open_box(box_settings.data_dir)
    try:
        assert user_for_token(box.db(), out.strip()) == User("lanhdao", "leader")
    finally:
        box.close()
    assert "Không có người dùng “khach”" in failed(motcua("token", "create", "--data", box_settings.data_dir, "khach"))


def test_token_works_as_a_bearer_token(box_settings: Settings, server_url_and_token: tuple[str, str]) -> None:
    url, token = server_url_and_token
    with requests.Session() as http:
        good = http.get(f"{url}/api/v1/dossiers", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        bad = http.get(f"{url}/api/v1/dossiers", headers={"Authorization": f"Bearer {token}x"}, timeout=10)
    assert good.status_code == 200, good.text
    assert bad.status_code == 401
    # A second server on the same port fails with one line, not a traceback.
    port = url.rsplit(":", 1)[1]
    assert "in use" in failed(motcua("serve", "--data", box_settings.data_dir, env=clean_env(MOTCUA_PORT=port)))


@pytest.fixture
def server_url_and_token(box_settings: Settings) -> Iterator[tuple[str, str]]:
    """Serve the box with MOTCUA_PORT set and a token made by the CLI."""
    token = ok(motcua("token", "create", "--data", box_settings.data_dir, "canbo")).strip()
    port = free_port()
    env = clean_env(MOTCUA_PORT=str(port), MOTCUA_DATA=str(box_settings.data_dir))
    process = subprocess.Popen(
        [str(MOTCUA), "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        url = read_url(process)
        assert url == f"http://127.0.0.1:{port}"
        yield url, token
    finally:
        stop_server(process)


# --- catalogue ------------------------------------------------------------------------------------

SAMPLE_CODE = "1.001193"
CUSTOM = [
    {
        "code": SAMPLE_CODE,  # replaces a procedure of the sample catalogue
        "name": "Thủ tục đăng ký khai sinh (đã sửa, “ngoặc kép”, dấu phẩy; chấm phẩy)",
        "field": "Hộ tịch",
        "level": "toan_trinh",
        "processing_days": 0.5,
        "same_day_cutoff": "15:30",
        "fees": [{"name": "Lệ phí, sao y", "kind": "charge", "amount": 8000}],
        "documents": [{"name": "Tờ khai", "kind": "original", "quantity": 2}],
        "source": 'Dòng một "trích dẫn", dấu phẩy\nDòng hai: https://dichvucong.gov.vn/?a=1;b=2',
    },
    {
        "code": "X-THU.01",
        "name": unicodedata.normalize("NFD", "Xác nhận tình trạng hôn nhân (dạng NFD)"),
        "field": "Hộ tịch",
        "level": "mot_phan",
        "processing_hours": 12,
        "same_day_cutoff": None,
        "fees": [],
        "documents": [
            {"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1},
            {"name": "Giấy tờ chứng minh", "kind": "certified_copy", "quantity": 3},
        ],
    },
    {"code": "X_THU_02", "name": "Thủ tục không phí", "field": "Khác", "processing_days": 365, "level": None},
]


@pytest.mark.parametrize("ext", ["json", "csv"])
def test_catalogue_round_trip_between_boxes(box_settings: Settings, tmp_path: Path, ext: str) -> None:
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps(CUSTOM, ensure_ascii=False), encoding="utf-8")
    assert ok(motcua("catalogue", "import", "--data", box_settings.data_dir, custom)) == "Đã nhập 3 thủ tục.\n"
    first, second, other = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}", tmp_path / "b2"
    ok(motcua("catalogue", "export", "--data", box_settings.data_dir, first))
    ok(motcua("init", "--data", other, "--commune-code", "00002", "--agency-code", AGENCY, "--name", "UBND xã Hai"))
    ok(motcua("catalogue", "import", "--data", other, first))
    ok(motcua("catalogue", "export", "--data", other, second))
    assert second.read_bytes() == first.read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))
    procs = {}
    for data in (box_settings.data_dir, other):
        box = open_box(data)
        try:
            procs[data] = list_procedures(box.db())
        finally:
            box.close()
    assert procs[other] == procs[box_settings.data_dir]
    changed = next(p for p in procs[other] if p.code == SAMPLE_CODE)
    assert (changed.level, changed.processing_days, changed.source) == ("toan_trinh", 0.5, CUSTOM[0]["source"])
    nfd = next(p for p in procs[other] if p.code == "X-THU.01")
    assert nfd.name == unicodedata.normalize("NFC", str(CUSTOM[1]["name"])) and nfd.processing_days == 1.5


def test_catalogue_export_is_the_same_in_both_formats(box_settings: Settings, tmp_path: Path) -> None:
    ok(motcua("catalogue", "export", "--data", box_settings.data_dir, tmp_path / "a.csv"))
    ok(motcua("catalogue", "export", "--data", box_settings.data_dir, tmp_path / "a.json"))
    from_csv = catalogue.load_file(tmp_path / "a.csv")
    assert from_csv == catalogue.load_file(tmp_path / "a.json")
    assert sorted(p.code for p in from_csv) == sorted(p.code for p in catalogue.sample_catalogue())


GOOD_ROW = {"code": "X.OK", "name": "Thủ tục tốt", "field": "Khác", "processing_days": 1}
CSV_HEAD = "code,name,field,level,processing_days,same_day_cutoff,fees,documents,source\n"
MALFORMED: dict[str, tuple[str, bytes | None]] = {
    "broken-json": ("a.json", b'[{"code": "X.1", "name": '),
    "not-a-list": ("a.json", b'{"thu_tuc": []}'),
    "bad-second-row": ("a.json", json.dumps([GOOD_ROW, GOOD_ROW | {"code": "X.2", "processing_days": -1}]).encode()),
    "repeated-code": ("a.json", json.dumps([GOOD_ROW, GOOD_ROW | {"code": "x.ok"}]).encode()),
    "missing-column": ("a.csv", b"code,name\nX.1,Thu tuc\n"),
    "bad-fees-cell": ("a.csv", (CSV_HEAD + 'X.OK,Tốt,Khác,,1,,"[{",[],\n').encode()),
    "not-utf8": ("a.csv", (CSV_HEAD + "X.OK,Tốt,Khác,,1,,[],[],\n").encode("utf-16")),
    "wrong-extension": ("a.xlsx", b"PK\x03\x04"),
    "missing-file": ("khong-co.json", None),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_catalogue_import_refuses_a_malformed_file(box_settings: Settings, tmp_path: Path, case: str) -> None:
    name, content = MALFORMED[case]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EdgeError) as expected:
        catalogue.load_file(path)
    snapshot = "SELECT * FROM procedures ORDER BY code"
    before = rows(box_settings.db_path, snapshot), rows(box_settings.db_path, "SELECT count(*) FROM audit_log")
    reason = failed(motcua("catalogue", "import", "--data", box_settings.data_dir, path))
    assert reason == expected.value.message("vi") and vietnamese(reason)
    after = rows(box_settings.db_path, snapshot), rows(box_settings.db_path, "SELECT count(*) FROM audit_log")
    assert after == before


def test_errors_follow_motcua_lang(box_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"[")
    english = clean_env(MOTCUA_LANG="en")
    reason = failed(motcua("catalogue", "import", "--data", box_settings.data_dir, tmp_path / "a.json", env=english))
    assert reason == "The file has malformed JSON at line 1, column 2."


# --- projections, version ---------------------------------------------------------------------------


def _make_dossiers(box: Box, clock: FakeClock) -> None:
    officer, leader = User("canbo", "officer"), User("lanhdao", "leader")
    for i in range(7):
        channel = "online" if i == 5 else "counter"
        code = intake.receive_dossier(box, officer, dossier_body("1.001193", channel=channel), "cli-test")["code"]
        clock.advance(minutes=7)
        if i == 5:
            actions.act(box, officer, code, "receive", {})
        if i >= 1:
            actions.act(box, officer, code, "transfer", {"assignee": "canbo2", "note": "Chuyển xử lý"})
        if i == 2:
            missing = [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1}]
            actions.act(
                box, officer, code, "request-supplement", {"reason": "Thiếu giấy", "missing_documents": missing}
            )
            clock.advance(days=1)
            actions.act(box, officer, code, "supplement-received", {})
        if i == 6:
            actions.act(box, officer, code, "request-payment", {"amount": 8000})
        if i >= 3:
            actions.act(box, leader, code, "approve", {})
        if i == 4:
            actions.act(box, officer, code, "return-result", {})
        clock.advance(hours=2)


def test_rebuild_projections_gives_the_same_rows(box: Box, clock: FakeClock) -> None:
    _make_dossiers(box, clock)
    box.close()
    before = dossier_snapshot(box.settings.db_path)
    assert len(before[0]) == 7 and len(before[1]) == 7
    assert (
        ok(motcua("rebuild-projections", "--data", box.settings.data_dir))
        == "Đã dựng lại 7 hồ sơ từ nhật ký sự kiện.\n"
    )
    assert dossier_snapshot(box.settings.db_path) == before
    assert rows(box.settings.db_path, "SELECT count(*) FROM dossier_search") == [(7,)]


def test_version(box_settings: Settings) -> None:
    lines = [f"motcua {__version__}", f"schema {latest_version()}"]
    assert ok(motcua("version")).splitlines() == lines
    assert ok(motcua("version", "--data", box_settings.data_dir)).splitlines() == [
        *lines,
        f"box schema {latest_version()}",
    ]
    module = subprocess.run(
        [sys.executable, "-m", "edge.cli", "version"], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert module.returncode == 0 and module.stdout.splitlines() == lines


def test_version_reads_motcua_data(box_settings: Settings) -> None:
    out = ok(motcua("version", env=clean_env(MOTCUA_DATA=str(box_settings.data_dir))))
    assert out.splitlines()[-1] == f"box schema {latest_version()}"


# --- environment and configuration ----------------------------------------------------------------


def test_motcua_data_replaces_data(box_settings: Settings, tmp_path: Path) -> None:
    env = clean_env(MOTCUA_DATA=str(box_settings.data_dir))
    ok(motcua("user", "add", "nguoimoi", "--role", "technician", "--password", PASSWORD, env=env))
    assert re.fullmatch(r"mc_\S+\n", ok(motcua("token", "create", "nguoimoi", env=env)))
    ok(motcua("catalogue", "export", tmp_path / "c.json", env=env))
    assert len(catalogue.load_file(tmp_path / "c.json")) == len(catalogue.sample_catalogue())
    # --data wins over the variable.
    elsewhere = clean_env(MOTCUA_DATA=str(tmp_path / "khong-co"))
    ok(motcua("token", "create", "--data", box_settings.data_dir, "nguoimoi", env=elsewhere))
    assert "motcua init" in failed(motcua("token", "create", "nguoimoi", env=elsewhere))
    assert "MOTCUA_DATA" in failed(motcua("token", "create", "nguoimoi"))


def test_motcua_variables_override_the_file(box_settings: Settings, server_url_and_token: tuple[str, str]) -> None:
    url, _ = server_url_and_token  # served on MOTCUA_PORT, checked by the fixture
    with requests.get(f"{url}/healthz", timeout=10) as health:
        assert health.json()["name"] == box_settings.name
    port = free_port()
    env = clean_env(MOTCUA_PORT=str(port), MOTCUA_NAME="UBND xã Đổi Tên")
    process = subprocess.Popen(
        [str(MOTCUA), "serve", "--data", str(box_settings.data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert read_url(process) == f"http://127.0.0.1:{port}"
        with requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
            assert health.json()["name"] == "UBND xã Đổi Tên"
    finally:
        stop_server(process)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MOTCUA_PORT", "tám"), ("MOTCUA_PORT", "8080.5"), ("MOTCUA_MAX_UPLOAD_MB", "nhiều")],
)
def test_bad_variable_is_one_line(box_settings: Settings, variable: str, value: str) -> None:
    env = clean_env(**{variable: value})
    reason = failed(motcua("token", "create", "--data", box_settings.data_dir, "canbo", env=env))
    assert variable in reason and value in reason


def _append(text: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return change


def _replace(old: str, new: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")

    return change


BROKEN_CONFIGS: dict[str, Callable[[Path], None]] = {
    "unclosed-table": _append("[server\nport = 1\n"),
    "box-not-a-table": lambda p: p.write_text('box = "xã"\n', encoding="utf-8"),
    "port-not-a-number": _replace("port = 8080", 'port = "tám nghìn"'),
    "name-not-text": _replace('name = "UBND', 'name = 12\n# "UBND'),
    "missing-commune": _replace("commune_code", "# commune_code"),
    "not-utf8": lambda p: p.write_bytes(p.read_bytes().replace("xã".encode(), "xã".encode("latin-1"))),
    "missing": lambda p: p.unlink(),
}


@pytest.mark.parametrize("case", BROKEN_CONFIGS, ids=list(BROKEN_CONFIGS))
def test_broken_config_file_is_one_line(box_settings: Settings, case: str) -> None:
    BROKEN_CONFIGS[case](box_settings.data_dir / "motcua.toml")
    before = rows(box_settings.db_path, "SELECT count(*) FROM users")
    add = ("user", "add", "--data", box_settings.data_dir)
    reason = failed(motcua(*add, "moi", "--role", "officer", "--password", PASSWORD))
    assert "motcua.toml" in reason or "motcua init" in reason
    assert vietnamese(reason)
    assert rows(box_settings.db_path, "SELECT count(*) FROM users") == before


def test_serve_with_a_broken_box_is_one_line(box_settings: Settings) -> None:
    (box_settings.data_dir / "secrets.toml").unlink()
    assert "secrets.toml" in failed(motcua("serve", "--data", box_settings.data_dir, "--port", "0"))
    _append("[server\n")(box_settings.data_dir / "motcua.toml")
    assert "motcua.toml" in failed(motcua("serve", "--data", box_settings.data_dir, "--port", "0"))


def test_damaged_database_is_one_line(box_settings: Settings) -> None:
    garbage = b"this is not an SQLite file\n" * 200
    box_settings.db_path.write_bytes(garbage)
    reason = failed(motcua("token", "create", "--data", box_settings.data_dir, "canbo"))
    assert reason.startswith("Tệp cơ sở dữ liệu bị hỏng")
    assert box_settings.db_path.read_bytes() == garbage


def test_unreadable_files_are_one_line(box_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "thu-muc.json").mkdir()
    failed(motcua("catalogue", "import", "--data", box_settings.data_dir, tmp_path / "thu-muc.json"))
    failed(motcua("catalogue", "export", "--data", box_settings.data_dir, tmp_path / "khong-co" / "a.json"))
    codes = ("--commune-code", "12345", "--agency-code", AGENCY, "--name", NAME)
    failed(motcua("init", "--data", box_settings.db_path / "con", *codes))


@pytest.mark.parametrize("where", ["username", "data-path"])
def test_reason_stays_one_line_whatever_the_input(box_settings: Settings, tmp_path: Path, where: str) -> None:
    if where == "username":
        failed(motcua("token", "create", "--data", box_settings.data_dir, "khach\nmoi"))
    else:
        failed(motcua("token", "create", "--data", tmp_path / "khong\nco", "canbo"))


@pytest.mark.parametrize("args", [("user", "add"), ("serve", "--port", "tám")])
def test_usage_errors_are_one_line(args: tuple[str, ...]) -> None:
    failed(motcua(*args))
