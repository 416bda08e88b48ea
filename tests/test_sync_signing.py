"""Request signing: round trip, each refusal with its own code, the nonce store and a fixed vector."""

from __future__ import annotations

import hashlib
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.protocol import (
    BoxKey,
    MemoryNonceStore,
    SyncError,
    canonical_request,
    check_commune,
    sign,
    verify,
)
from sync.protocol.signing import canonical_query

SECRET = b"bi-mat-thu-nghiem"
NOW = 1_767_225_600
PATH = "/api/v1/communes/01001/push"
KEYS = {
    "box-01001": BoxKey("box-01001", "01001", SECRET),
    "box-old": BoxKey("box-old", "01002", b"old-secret", revoked=True),
}


def check(
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    query: object = None,
    body: bytes = b'{"x":1}',
    now: int = NOW,
    nonces: MemoryNonceStore | None = None,
) -> BoxKey:
    return verify(
        headers,
        method,
        path,
        query,  # type: ignore[arg-type]
        body,
        secret_for=KEYS.get,
        nonces=nonces if nonces is not None else MemoryNonceStore(),
        now=now,
    )


def signed(body: bytes = b'{"x":1}', query: object = None, **kw: object) -> dict[str, str]:
    return sign(SECRET, "box-01001", "POST", PATH, query, body, now=NOW, **kw)  # type: ignore[arg-type]


def code_of(headers: dict[str, str], **kw: object) -> str:
    with pytest.raises(SyncError) as info:
        check(headers, **kw)  # type: ignore[arg-type]
    assert info.value.vi and info.value.en and info.value.vi != info.value.en
    return info.value.code


def test_round_trip_returns_the_key() -> None:
    key = check(signed())
    assert key.box_id == "box-01001" and key.commune_code == "01001"
    assert "bi-mat" not in repr(key)


def test_headers_are_case_insensitive_and_method_is_upper_cased() -> None:
    headers = {k.lower(): v for k, v in sign(SECRET, "box-01001", "post", PATH, None, b"", now=NOW).items()}
    assert check(headers, method="post", body=b"").box_id == "box-01001"


def test_fixed_vector() -> None:
    query = {"b": "2", "a": ["x y", "1"], "tên": "Hà Nội"}
    canonical = canonical_request("post", PATH, query, NOW, "AAAAAAAAAAAAAAAAAAAAAA", b'{"x":1}')
    assert canonical == (
        b"POST\n/api/v1/communes/01001/push\na=1&a=x%20y&b=2&t%C3%AAn=H%C3%A0%20N%E1%BB%99i\n1767225600\n"
        b"AAAAAAAAAAAAAAAAAAAAAA\n5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22"
    )
    headers = sign(SECRET, "box-01001", "post", PATH, query, b'{"x":1}', now=NOW, nonce="AAAAAAAAAAAAAAAAAAAAAA")
    assert headers == {
        "X-Motcua-Box": "box-01001",
        "X-Motcua-Timestamp": "1767225600",
        "X-Motcua-Nonce": "AAAAAAAAAAAAAAAAAAAAAA",
        "X-Motcua-Content-SHA256": "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22",
        "X-Motcua-Signature": "v1=9d91c50f2ba49c51854dbbcd83711dfc7774fe212b60db9fdfdf4941606fbec8",
    }


def test_empty_request_canonical_form() -> None:
    assert canonical_request("get", "/api/v1/feed", None, 5, "n" * 16, b"") == (
        b"GET\n/api/v1/feed\n\n5\nnnnnnnnnnnnnnnnn\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("b=2&a=1", "a=1&b=2"),
        ("?a=x+y&a=%7E", "a=x%20y&a=~"),
        ({"cursor": "12", "limit": "100"}, "cursor=12&limit=100"),
        ({"a": ["2", "10"]}, "a=10&a=2"),
        ("flag=&a=1", "a=1&flag="),
        ("", ""),
        ({}, ""),
    ],
)
def test_canonical_query(query: object, expected: str) -> None:
    assert canonical_query(query) == expected  # type: ignore[arg-type]


def test_query_string_and_mapping_sign_the_same() -> None:
    headers = sign(SECRET, "box-01001", "GET", "/feed", "limit=100&cursor=a%2Fb", b"", now=NOW)
    assert check(headers, method="GET", path="/feed", query={"cursor": "a/b", "limit": "100"}, body=b"")


def test_query_reordering_is_fine_but_another_value_fails() -> None:
    headers = signed(query="a=1&b=2")
    assert check(dict(headers), query="b=2&a=1")
    assert code_of(headers, query="a=1&b=3") == "bad_signature"
    assert code_of(headers, query="a=1") == "bad_signature"


def test_tampered_body_is_a_hash_mismatch() -> None:
    assert code_of(signed(), body=b'{"x":2}') == "body_hash_mismatch"


def test_tampered_body_and_hash_is_a_bad_signature() -> None:
    headers = signed()
    headers["X-Motcua-Content-SHA256"] = hashlib.sha256(b'{"x":2}').hexdigest()
    assert code_of(headers, body=b'{"x":2}') == "bad_signature"


def test_tampered_path_method_and_box() -> None:
    assert code_of(signed(), path="/api/v1/communes/01002/push") == "bad_signature"
    assert code_of(signed(), method="PUT") == "bad_signature"
    other = signed()
    other["X-Motcua-Signature"] = "v1=" + "0" * 64
    assert code_of(other) == "bad_signature"


@pytest.mark.parametrize("offset", [301, -301, 10_000, -86_400])
def test_old_or_future_timestamp(offset: int) -> None:
    assert code_of(signed(), now=NOW + offset) == "stale_timestamp"


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_at_the_window_edge_is_accepted(offset: int) -> None:
    assert check(signed(), now=NOW + offset)


def test_stale_timestamp_reports_the_skew() -> None:
    with pytest.raises(SyncError) as info:
        check(signed(), now=NOW + 400)
    assert info.value.details["skew"] == -400 and info.value.status == 401


def test_replay_is_refused() -> None:
    nonces = MemoryNonceStore()
    headers = signed()
    check(headers, nonces=nonces)
    assert code_of(headers, nonces=nonces) == "replayed_nonce"


def test_a_bad_signature_does_not_burn_the_nonce() -> None:
    nonces = MemoryNonceStore()
    headers = signed()
    forged = dict(headers, **{"X-Motcua-Signature": "v1=" + "a" * 64})
    assert code_of(forged, nonces=nonces) == "bad_signature"
    assert check(headers, nonces=nonces)


def test_unknown_and_revoked_boxes() -> None:
    unknown = sign(SECRET, "box-99999", "POST", PATH, None, b'{"x":1}', now=NOW)
    assert code_of(unknown) == "unknown_box"
    revoked = sign(b"old-secret", "box-old", "POST", PATH, None, b'{"x":1}', now=NOW)
    assert code_of(revoked) == "revoked_box"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Motcua-Box", None),
        ("X-Motcua-Box", ""),
        ("X-Motcua-Box", "box 1"),
        ("X-Motcua-Timestamp", None),
        ("X-Motcua-Timestamp", "1.5"),
        ("X-Motcua-Timestamp", "-5"),
        ("X-Motcua-Timestamp", "１２"),
        ("X-Motcua-Nonce", None),
        ("X-Motcua-Nonce", "short"),
        ("X-Motcua-Nonce", "bad nonce with spaces"),
        ("X-Motcua-Signature", None),
        ("X-Motcua-Signature", "9d91c50f2ba49c51854dbbcd83711dfc7774fe212b60db9fdfdf4941606fbec8"),
        ("X-Motcua-Signature", "v2=" + "0" * 64),
        ("X-Motcua-Signature", "v1=" + "Z" * 64),
        ("X-Motcua-Content-SHA256", None),
        ("X-Motcua-Content-SHA256", "abc"),
    ],
)
def test_missing_or_malformed_headers(header: str, value: str | None) -> None:
    headers = signed()
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    assert code_of(headers) == "bad_request_signature_headers"


def test_check_commune() -> None:
    key = KEYS["box-01001"]
    check_commune(key, "01001")
    with pytest.raises(SyncError) as info:
        check_commune(key, "01002")
    assert info.value.code == "wrong_commune" and info.value.status == 403
    assert "01002" in info.value.vi and "01002" in info.value.en


def test_nonces_are_fresh_and_url_safe() -> None:
    seen = {signed()["X-Motcua-Nonce"] for _ in range(200)}
    assert len(seen) == 200
    assert all(len(n) == 22 and n.replace("-", "").replace("_", "").isalnum() for n in seen)


@given(
    body=st.binary(max_size=200),
    query=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=4),
    path=st.from_regex(r"/[a-z0-9/]{0,20}", fullmatch=True),
)
def test_round_trip_any_request(body: bytes, query: dict[str, str], path: str) -> None:
    headers = sign(SECRET, "box-01001", "POST", path, query, body, now=NOW)
    assert check(headers, path=path, query=query, body=body).box_id == "box-01001"


# The nonce store


def test_store_remembers_per_box() -> None:
    store = MemoryNonceStore(window=300)
    assert store.seen_or_add("a", "n1", NOW) is False
    assert store.seen_or_add("a", "n1", NOW) is True
    assert store.seen_or_add("b", "n1", NOW) is False
    assert len(store) == 2


def test_store_expires_after_twice_the_window() -> None:
    store = MemoryNonceStore(window=300)
    store.seen_or_add("a", "old", NOW)
    store.seen_or_add("a", "newer", NOW + 600)
    assert len(store) == 2  # NOW is exactly 2×window old: still kept
    store.seen_or_add("a", "newest", NOW + 601)
    assert len(store) == 2
    # Anything older than what the store remembers cannot be proven fresh.
    assert store.seen_or_add("a", "old", NOW) is True


def test_store_is_bounded_and_refuses_what_it_had_to_forget() -> None:
    store = MemoryNonceStore(window=300, max_entries=3)
    for i in range(3):
        assert store.seen_or_add("a", f"n{i}", NOW + i) is False
    assert store.seen_or_add("a", "n3", NOW + 3) is False
    assert len(store) == 3
    assert store.seen_or_add("a", "n0", NOW) is True  # evicted, but still refused
    assert store.seen_or_add("a", "late", NOW) is True
    assert store.seen_or_add("a", "n4", NOW + 4) is False


def test_store_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError):
        MemoryNonceStore(max_entries=0)


def test_store_is_thread_safe() -> None:
    store = MemoryNonceStore(window=300, max_entries=100_000)
    fresh: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [not store.seen_or_add("a", f"n{i}", NOW) for i in range(500)]
        with lock:
            fresh.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fresh) == 500 and len(store) == 500
