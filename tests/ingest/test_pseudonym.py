"""Keyed pseudonyms: stable per key, different across keys and namespaces, never the raw id."""

from __future__ import annotations

import hmac
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assist.ingest.pseudonym import Pseudonymiser, _Hmac, key_fingerprint, pseudonym
from assist.settings import DEV_PSEUDONYM_KEY, Settings

KEY = "k" * 32
PATTERN = re.compile(r"^[hp][0-9a-f]{20}$")


def test_same_id_and_key_give_the_same_pseudonym():
    a = pseudonym("HH00012", kind="household", key=KEY)
    assert a == pseudonym("HH00012", kind="household", key=KEY.encode())
    assert PATTERN.fullmatch(a) and a.startswith("h")


def test_a_different_key_gives_a_different_pseudonym():
    assert pseudonym("HH00012", kind="household", key=KEY) != pseudonym(
        "HH00012", kind="household", key=KEY + "x")


def test_household_and_person_with_the_same_raw_id_differ():
    h = pseudonym("X0001", kind="household", key=KEY)
    p = pseudonym("X0001", kind="person", key=KEY)
    assert h[1:] != p[1:] and h[0] == "h" and p[0] == "p"


def test_the_pseudonym_is_the_documented_hmac():
    digest = hmac.digest(KEY.encode(), b"person\x00P-1234", "sha256").hex()
    assert pseudonym("P-1234", kind="person", key=KEY) == "p" + digest[:20]


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=1, max_size=150), ids=st.lists(st.text(min_size=1), max_size=5))
def test_fast_hmac_equals_hmac_digest(key: bytes, ids: list[str]):
    msgs = [b"person\x00" + i.encode() for i in ids]
    expected = ["p" + hmac.digest(key, m, "sha256").hex()[:20] for m in msgs]
    assert _Hmac(key).hexes(msgs, "p") == expected


def test_column_maps_each_value_keeps_missing_and_index():
    values = pd.Series(["A0001", None, "B0002", "A0001"], index=[10, 11, 12, 13],
                       dtype="string")
    out = Pseudonymiser(KEY).column(values, "person")
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.isna().tolist() == [False, True, False, False]
    assert out[10] == out[13] == pseudonym("A0001", kind="person", key=KEY)
    assert out[12] == pseudonym("B0002", kind="person", key=KEY)
    assert out.dtype == pd.StringDtype()


def test_cache_gives_the_same_answers_across_calls_and_kinds():
    p = Pseudonymiser(KEY)
    first = p.column(pd.Series([f"ID{i:04d}" for i in range(50)], dtype="string"), "person")
    # a second file: some ids seen, some new, a smaller set than the cache
    second = p.column(pd.Series(["ID0003", "NEW01", "ID0049"], dtype="string"), "person")
    assert second.tolist() == [first[3], pseudonym("NEW01", kind="person", key=KEY), first[49]]
    households = p.column(pd.Series(["ID0003"], dtype="string"), "household")
    assert households[0] == pseudonym("ID0003", kind="household", key=KEY)
    assert len(p) == 52


def test_empty_and_all_missing_columns():
    p = Pseudonymiser(KEY)
    assert p.column(pd.Series([], dtype="string"), "household").empty
    assert p.column(pd.Series([None, None], dtype="string"), "household").isna().all()


def test_key_fingerprint_is_stable_and_does_not_contain_the_key():
    fp = key_fingerprint(KEY)
    assert fp == key_fingerprint(KEY.encode()) and KEY not in fp and len(fp) == 16
    assert fp != key_fingerprint(KEY + "x")


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="empty"):
        Pseudonymiser("")


@pytest.mark.parametrize("env", ["production", "test"])
def test_settings_refuse_the_development_key_outside_dev(env: str, monkeypatch):
    monkeypatch.delenv("ASSIST_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ValueError, match="ASSIST_PSEUDONYM_KEY"):
        Settings(env=env)
    with pytest.raises(ValueError, match="ASSIST_PSEUDONYM_KEY"):
        Settings(env=env, pseudonym_key=DEV_PSEUDONYM_KEY)


def test_settings_accept_the_development_key_in_dev_and_a_real_key_anywhere(monkeypatch):
    monkeypatch.delenv("ASSIST_PSEUDONYM_KEY", raising=False)
    assert Settings(env="dev").pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY
    assert Settings(env="production", pseudonym_key="s" * 40).env == "production"
    with pytest.raises(ValueError, match="32"):
        Settings(env="production", pseudonym_key="short")
