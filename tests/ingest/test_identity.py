"""The identity vault: what ingest writes beside the store (names, address, phone, members,
keyed by the household pseudonym), encrypted at rest with no plaintext anywhere, the blind
index, key rotation, keys refused outside dev, the CLI verbs, and the simulator's phones."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from typer.testing import CliRunner

from assist.cli.app import app
from assist.errors import InputError
from assist.ingest.identity import (
    INDEX_FILE,
    VAULT_FILE,
    blind,
    looks_like_id_number,
    read_manifest,
    rotate_vault,
    write_vault,
)
from assist.ingest.pseudonym import pseudonym
from assist.settings import (
    DEV_IDENTITY_INDEX_KEY,
    DEV_IDENTITY_KEY,
    DEV_PSEUDONYM_KEY,
    Settings,
    SettingsError,
)
from assist.simulate.identity import phones
from tests.conftest import ADDRESSES, HOUSEHOLD_IDS, ID_NUMBERS, KEY, NAMES, PERSONS

INDEX_KEY = "test-identity-index-key-0123456789abcdef"


@pytest.fixture
def written(raw, tmp_path):
    """The tiny district's vault; the head of HHX00002 has a phone, HHX00001's head none."""
    persons = raw.frame("persons", "2024-02")
    persons["phone"] = persons["phone"].astype("string")
    persons.loc[3, "phone"] = "13900001111"  # PPX0020: the head of household 2
    persons.loc[4, "phone"] = "13600002222"  # its spouse
    source = raw.write(tmp_path / "source")
    key = Fernet.generate_key().decode()
    summary = write_vault(source=source, out=tmp_path / "identity", pseudonym_key=KEY,
                          keys=[key], index_key=INDEX_KEY)
    return tmp_path / "identity", key, summary


def _decrypted(folder, keys) -> dict[str, dict]:  # noqa: ANN001
    box = MultiFernet([Fernet(k) for k in keys])
    table = pq.read_table(folder / VAULT_FILE).to_pandas()
    return {h: json.loads(box.decrypt(t)) for h, t in zip(table.household_id, table.token,
                                                         strict=True)}


def test_the_vault_holds_each_household_under_its_pseudonym(written):
    folder, key, summary = written
    assert (summary.snapshot, summary.households) == ("2024-02", len(HOUSEHOLD_IDS))
    found = _decrypted(folder, [key])
    assert set(found) == {pseudonym(h, kind="household", key=KEY) for h in HOUSEHOLD_IDS}
    first = found[pseudonym("HHX00001", kind="household", key=KEY)]
    members = [(i, p) for i, p in enumerate(PERSONS) if p[1] == 1]
    assert first["head_name"] == NAMES[members[0][0]] and first["address"] == ADDRESSES[0]
    assert first["phone"] is None
    assert [m["relation"] for m in first["members"]] == [p[3] for _, p in members]
    second = found[pseudonym("HHX00002", kind="household", key=KEY)]
    assert second["phone"] == "13900001111"
    assert len(second["members"]) == 2 and second["members"][0]["relation"] == "head"


def test_nothing_personal_is_stored_in_clear(written):
    folder = written[0]
    raw = b"".join(p.read_bytes() for p in folder.iterdir())
    for secret in [*NAMES, *ID_NUMBERS, *ADDRESSES, *HOUSEHOLD_IDS, "13900001111"]:
        assert secret.encode("utf-8") not in raw, secret
    assert read_manifest(folder)["households"] == len(HOUSEHOLD_IDS)


def test_the_blind_index_finds_a_member_by_id_number_or_name_and_only_with_its_key(written):
    folder = written[0]
    index = pq.read_table(folder / INDEX_FILE).to_pandas()
    wanted = pseudonym("HHX00003", kind="household", key=KEY)
    i = next(k for k, p in enumerate(PERSONS) if p[1] == 3)
    for kind, value in (("id", ID_NUMBERS[i]), ("id", f" {ID_NUMBERS[i].lower()} "),
                        ("name", NAMES[i])):
        assert index.loc[index.digest == blind(kind, value, INDEX_KEY), "household_id"
                         ].tolist() == [wanted]
    assert not index.digest.isin([blind("id", ID_NUMBERS[i], "another-key-" + "x" * 30)]).any()
    assert looks_like_id_number("31010119520304122x") and not looks_like_id_number("王秀英")


def test_rotation_re_encrypts_under_the_new_key(written):
    folder, old, _ = written
    new = Fernet.generate_key().decode()
    with pytest.raises(InputError, match="keep the old key"):
        rotate_vault(out=folder, keys=[new], index_key=INDEX_KEY)
    before = _decrypted(folder, [old])
    rotate_vault(out=folder, keys=[new, old], index_key=INDEX_KEY)
    assert _decrypted(folder, [new]) == before
    with pytest.raises(InvalidToken):
        _decrypted(folder, [old])
    with pytest.raises(InputError, match="blind index"):
        rotate_vault(out=folder, keys=[new], index_key="another-index-key-" + "x" * 20)


def test_a_malformed_key_is_one_line_naming_the_variable(raw, tmp_path):
    source = raw.write(tmp_path / "source")
    with pytest.raises(InputError, match="ASSIST_IDENTITY_KEYS: key 1 is not a Fernet key"):
        write_vault(source=source, out=tmp_path / "identity", pseudonym_key=KEY,
                    keys=["not-a-key"], index_key=INDEX_KEY)
    assert not (tmp_path / "identity").exists()


@pytest.mark.parametrize(("env", "message"), [
    ({}, "ASSIST_IDENTITY_KEYS is not set"),
    ({"identity_keys": "k"}, "ASSIST_IDENTITY_INDEX_KEY is not set"),
    ({"identity_keys": DEV_IDENTITY_KEY, "identity_index_key": "i" * 40},
     "ASSIST_IDENTITY_KEYS is not set"),
    ({"identity_keys": "k", "identity_index_key": "short"}, "at least 32 characters"),
])
def test_identity_keys_are_required_outside_dev(env, message):
    s = Settings(env="production", pseudonym_key="p" * 40, **env)
    with pytest.raises(SettingsError, match=message):
        s.identity_secrets()


def test_dev_uses_the_built_in_keys():
    keys, index = Settings(env="dev").identity_secrets()
    assert (keys, index) == ([DEV_IDENTITY_KEY], DEV_IDENTITY_INDEX_KEY)
    keys, _ = Settings(env="production", pseudonym_key="p" * 40, identity_keys=" a , b ",
                       identity_index_key="i" * 40).identity_secrets()
    assert keys == ["a", "b"]


def test_ingest_writes_the_vault_and_the_cli_rotates_it(raw, tmp_path):
    raw.set("households", 5, "2024-02", street_code="S99")  # quarantined: not in the vault
    source = raw.write(tmp_path / "source")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path / "ws"), "COLUMNS": "200"}
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", "--source", str(source), "--out", str(tmp_path / "store")],
                      env=env)
    assert r.exit_code == 0, r.output
    assert "identity vault: 5 households of 2024-02" in r.output
    assert (tmp_path / "identity" / VAULT_FILE).is_file()  # beside the store, not inside it
    assert not any("identity" in p.name for p in (tmp_path / "store").rglob("*"))
    new = Fernet.generate_key().decode()
    keys = {"ASSIST_IDENTITY_KEYS": f"{new},{DEV_IDENTITY_KEY}"}
    r = runner.invoke(app, ["identity", "rotate", "--store", str(tmp_path / "store")],
                      env={**env, **keys})
    assert r.exit_code == 0, r.output
    found = _decrypted(tmp_path / "identity", [new])
    assert set(found) == {pseudonym(h, kind="household", key=DEV_PSEUDONYM_KEY)
                          for h in HOUSEHOLD_IDS[:5]}
    r = runner.invoke(app, ["identity", "status", "--store", str(tmp_path / "store")], env=env)
    assert r.exit_code == 0 and "5 households" in r.output
    r = runner.invoke(app, ["identity", "rotate", "--store", str(tmp_path / "store")],
                      env={**env, "ASSIST_ENV": "production", "ASSIST_PSEUDONYM_KEY": "p" * 40})
    assert r.exit_code == 2 and "ASSIST_IDENTITY_KEYS is not set" in r.output


def test_simulated_phones_are_mobile_numbers_stable_and_absent_for_children():
    key = (123456789 * 10 + 7, 4242)
    people = np.arange(5000)
    age = np.where(people % 5 == 0, 10, 40)
    out = pd.Series(phones(people, age, key).to_pylist())
    assert out[age < 16].isna().all() and out[age >= 16].notna().all()
    adults = out[age >= 16]
    assert adults.str.fullmatch(r"1[3-9]\d{9}").all()
    assert adults.is_unique
    assert phones(people, age, key).equals(phones(people, age, key))


def test_an_unchanged_source_keeps_the_vault_and_a_changed_one_rewrites_it(raw, tmp_path):
    source = raw.write(tmp_path / "source")
    args = {"source": source, "out": tmp_path / "identity", "pseudonym_key": KEY,
            "index_key": INDEX_KEY}
    key = Fernet.generate_key().decode()
    write_vault(keys=[key], **args)
    vault = tmp_path / "identity" / VAULT_FILE
    before = vault.read_bytes()
    assert write_vault(keys=[key], **args).households == len(HOUSEHOLD_IDS)
    assert vault.read_bytes() == before  # kept: Fernet tokens differ at every write
    raw.set("households", 0, "2024-02", address="幸福路99号")
    raw.write(tmp_path / "source")
    write_vault(keys=[key], **args)
    changed = _decrypted(tmp_path / "identity", [key])
    assert changed[pseudonym("HHX00001", kind="household", key=KEY)]["address"] == "幸福路99号"
