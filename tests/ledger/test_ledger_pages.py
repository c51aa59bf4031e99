"""Page tokens on a string key (ListLibraries) next to the integer-id ones."""

from __future__ import annotations

import pytest

from ledger.db import session_scope
from ledger.libraries import list_libraries_page, upsert_library
from ledger.pagination import (
    InvalidPageToken,
    decode_key_page_token,
    decode_page_token,
    encode_page_token,
)


def test_libraries_page_in_key_order_and_only_the_configured_ones(engine):
    with session_scope(engine) as session:
        for key in ("delta", "alpha", "echo", "charlie", "bravo"):
            upsert_library(session, key, f"/photos/{key}")
    configured = {"alpha", "bravo", "charlie", "echo", "foxtrot"}  # foxtrot: configured, never scanned
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    with session_scope(engine) as session:
        while True:
            rows, token = list_libraries_page(session, keys=configured, page_size=2, page_token=token)
            seen += [r.key for r in rows]
            if not token:
                break
            tokens.append(token)
    assert seen == ["alpha", "bravo", "charlie", "echo"]
    assert len(tokens) == 1 and "charlie" not in tokens[0]  # opaque, not the key itself
    with session_scope(engine) as session:
        everything, last = list_libraries_page(session)
        assert ([r.key for r in everything], last) == (["alpha", "bravo", "charlie", "delta", "echo"], "")
        assert list_libraries_page(session, keys=set()) == ([], "")


def test_a_foreign_library_page_token_is_refused(engine):
    with session_scope(engine) as session:
        upsert_library(session, "alpha", "/a")
        for bad in ("garbage", "2", encode_page_token("reels", 5, {}), encode_page_token("libraries", 5, {})):
            with pytest.raises(InvalidPageToken):
                list_libraries_page(session, page_token=bad)
        with pytest.raises(ValueError):
            list_libraries_page(session, page_size=-1)


def test_key_and_id_tokens_do_not_pass_for_each_other():
    by_key = encode_page_token("libraries", "alpha", {})
    by_id = encode_page_token("reels", 7, {"library_key": "fam"})
    assert decode_key_page_token("libraries", by_key, {}) == "alpha"
    assert decode_page_token("reels", by_id, {"library_key": "fam"}) == 7
    with pytest.raises(InvalidPageToken):
        decode_page_token("libraries", by_key, {})  # right scope, but a key where an id belongs
    with pytest.raises(InvalidPageToken):
        decode_key_page_token("reels", by_id, {"library_key": "fam"})
    assert decode_key_page_token("libraries", "", {}) is None
