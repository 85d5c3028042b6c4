"""The identity vault (身份信息保险库): who and where each household is, encrypted at rest.

Ingest pseudonymises identifiers and drops names, ID numbers, addresses and phone numbers
from the store. This module writes them — head's name, address, phone, the members' names
and relations — to a separate vault keyed by the household pseudonym, for the serving
layer's identity service (:mod:`assist.serving.services.identity`, its only reader), which
shows them to caseworkers of the household's own street, each reveal audited.

Layout (``<workspace>/identity/``, outside the store, so no feature, training, scoring or
report code reads it; an import-linter contract forbids those packages to import this module):

* ``vault.parquet``: ``household_id`` (pseudonym), ``street_code``, ``community_code`` in
  clear (the jurisdiction, already in the store) and ``token``: a Fernet token (AES-128-CBC
  + HMAC-SHA256) of the household's identity as JSON, under the newest key of
  ``ASSIST_IDENTITY_KEYS`` (:class:`~cryptography.fernet.MultiFernet` decrypts with any).
* ``index.parquet``: the blind index — ``digest`` = HMAC-SHA256 under
  ``ASSIST_IDENTITY_INDEX_KEY`` of each member's normalised ID number (``id:``) and full name
  (``name:``), 32 hex characters, with the ``household_id``. Exact search compares digests;
  no plaintext index exists.
* ``manifest.json``: format, snapshot, household count and the index key's fingerprint (a
  search with another key is refused instead of silently finding nothing).

The vault is rebuilt from the latest snapshot's ``households`` and ``persons`` extracts at
every ingest (:func:`write_vault`) and re-encrypted under a new key by :func:`rotate_vault`.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from assist.errors import InputError
from assist.features.schemas import RAW_ID_PATTERN, TABLES
from assist.ingest.extracts import Extract, discover, read_extract
from assist.ingest.pseudonym import Pseudonymiser, key_fingerprint
from assist.ingest.source import read_options
from assist.storage import atomic
from assist.storage.store import file_sha256, table_path

FORMAT = "assist-identity/1"
VAULT_FILE, INDEX_FILE, MANIFEST_FILE = "vault.parquet", "index.parquet", "manifest.json"
DIGEST_CHARS = 32
VAULT_SCHEMA = pa.schema([("household_id", pa.string()), ("street_code", pa.string()),
                          ("community_code", pa.string()), ("token", pa.binary())])
INDEX_SCHEMA = pa.schema([("digest", pa.string()), ("household_id", pa.string())])
_ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class VaultSummary:
    """What a vault write or rotation did."""

    snapshot: str
    households: int
    index_entries: int


def fernet(keys: Sequence[str]) -> MultiFernet:
    """A MultiFernet over ``keys`` (newest first); a malformed key is a one-line error."""
    out = []
    for n, key in enumerate(keys, start=1):
        try:
            out.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeError):
            raise InputError(f"ASSIST_IDENTITY_KEYS: key {n} is not a Fernet key (32 url-safe "
                             "base64-encoded bytes; make one with `assist identity new-key`)"
                             ) from None
    if not out:
        raise InputError("ASSIST_IDENTITY_KEYS holds no key")
    return MultiFernet(out)


def normalise_id_number(value: str) -> str:
    """An ID number as compared: no spaces, upper-case X."""
    return _SPACES.sub("", value).upper()


def normalise_name(value: str) -> str:
    """A name as compared: no spaces (Chinese names are written without them)."""
    return _SPACES.sub("", value)


def blind(kind: str, value: str, key: str) -> str:
    """The blind-index digest of ``value`` (``kind``: ``id`` or ``name``), normalised first."""
    norm = normalise_id_number(value) if kind == "id" else normalise_name(value)
    msg = kind.encode("ascii") + b":" + norm.encode("utf-8")
    return hmac.digest(key.encode("utf-8"), msg, "sha256").hex()[:DIGEST_CHARS]


def looks_like_id_number(text: str) -> bool:
    """Whether ``text`` is an 18-character national ID number (search by blind index)."""
    return bool(_ID_NUMBER.match(normalise_id_number(text)))


def _text(value: Any) -> str | None:  # noqa: ANN401
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _age(value: Any) -> int | None:  # noqa: ANN401
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _latest(source: Path, encoding: str | None) -> tuple[str, list[Extract]]:
    """The latest snapshot and its households and persons extracts."""
    snapshots, extracts = discover(source, read_options(source, encoding=encoding))
    latest = snapshots[-1]
    return latest, [e for e in extracts
                    if e.snapshot == latest and e.table in ("households", "persons")]


_MEMBER = ("name", "relation", "age", "sex", "phone", "id_number")


def _members(persons: pd.DataFrame, households: pd.Series) -> dict[str, list[dict[str, Any]]]:
    """Each household's members, head first, then in person-id order (one pass over rows)."""
    people = persons.loc[persons["household_id"].astype("string").isin(households)
                         .fillna(False).to_numpy(dtype=bool)]
    people = people.assign(_later=(people["relation"].astype("string") != "head").fillna(True))
    people = people.sort_values(["household_id", "_later", "person_id"], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    columns = [people["household_id"].tolist(), *(people[c].tolist() for c in _MEMBER)]
    for h, name, relation, age, sex, phone, id_number in zip(*columns, strict=True):
        out.setdefault(h, []).append({
            "name": _text(name), "relation": _text(relation), "age": _age(age),
            "sex": _text(sex), "phone": _text(phone), "id_number": _text(id_number)})
    return out


def _identities(households: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """One row per household with a well-formed id: jurisdiction and its identity payload."""
    ok = households["household_id"].astype("string").str.fullmatch(RAW_ID_PATTERN).fillna(False)
    hh = households.loc[ok.to_numpy(dtype=bool)].drop_duplicates("household_id", keep="first")
    members = _members(persons, hh["household_id"])
    rows = []
    for h, street, community, address in zip(
            *(hh[c].tolist() for c in ("household_id", "street_code", "community_code",
                                       "address")), strict=True):
        ms = members.get(h, [])
        head = ms[0] if ms else {}
        phone = head.get("phone") or next((m["phone"] for m in ms if m["phone"]), None)
        rows.append({"raw_id": str(h), "street_code": _text(street) or "",
                     "community_code": _text(community) or "",
                     "payload": {"head_name": head.get("name"), "address": _text(address),
                                 "phone": phone, "members": ms}})
    return pd.DataFrame(rows, columns=["raw_id", "street_code", "community_code", "payload"])


def _index_rows(ids: pd.Series, payloads: pd.Series, index_key: str) -> pd.DataFrame:
    """Blind-index digests of every member's ID number and name (each pair once)."""
    pairs = set()
    for h, payload in zip(ids, payloads, strict=True):
        for m in payload["members"]:
            if m.get("id_number"):
                pairs.add((blind("id", m["id_number"], index_key), h))
            if m.get("name"):
                pairs.add((blind("name", m["name"], index_key), h))
    return pd.DataFrame(sorted(pairs), columns=["digest", "household_id"])


def write_vault(*, source: Path, out: Path, pseudonym_key: str | bytes, keys: Sequence[str],
                index_key: str, encoding: str | None = None,
                store: Path | None = None) -> VaultSummary:
    """Write the identity vault of the latest snapshot in ``source`` to the folder ``out``
    (replaced atomically): tokens under the newest of ``keys``, blind index under
    ``index_key``, households keyed by their pseudonym under ``pseudonym_key`` — with a
    ``store``, only the households it accepted that month. A vault already written from the
    same extract files with the same keys is kept as it is."""
    fernet(keys)  # a bad key fails before any extract is read
    snapshot, extracts = _latest(Path(source), encoding)
    accepted = table_path(Path(store), "households", snapshot) if store is not None else None
    if accepted is not None and not accepted.is_file():
        accepted = None
    stamp = {"sources": {e.name: file_sha256(e.path) for e in extracts},
             "accepted": file_sha256(accepted) if accepted is not None else None,
             "key": key_fingerprint(keys[0]), "pseudonym_key": key_fingerprint(pseudonym_key)}
    manifest = Path(out) / MANIFEST_FILE
    if manifest.is_file():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if old.get("stamp") == stamp and old.get("index_key") == key_fingerprint(index_key):
            return VaultSummary(old["snapshot"], old["households"], old["index_entries"])
    frames = {e.table: read_extract(e, TABLES[e.table]).frame for e in extracts}
    found = _identities(frames["households"], frames["persons"])
    pseudonyms = Pseudonymiser(pseudonym_key).column(found["raw_id"].astype("string"),
                                                     "household")
    found = found.assign(household_id=pseudonyms.astype(str))
    if accepted is not None:
        kept = set(pq.read_table(accepted, columns=["household_id"]).column(0).to_pylist())
        found = found[found["household_id"].isin(kept).to_numpy()]
    return write_entries(out=out, entries=found, keys=keys, index_key=index_key,
                         snapshot=snapshot, stamp=stamp)


def write_entries(*, out: Path, entries: pd.DataFrame, keys: Sequence[str], index_key: str,
                  snapshot: str, stamp: dict[str, Any] | None = None) -> VaultSummary:
    """Encrypt and write ``entries`` (``household_id`` pseudonym, ``street_code``,
    ``community_code``, ``payload``: the identity as a dict) as the vault in ``out``."""
    box = fernet(keys)
    tokens = [box.encrypt(json.dumps(p, ensure_ascii=False, sort_keys=True).encode("utf-8"))
              for p in entries["payload"]]
    vault = pd.DataFrame({"household_id": entries["household_id"].astype(str).to_numpy(),
                          "street_code": entries["street_code"].astype(str).to_numpy(),
                          "community_code": entries["community_code"].astype(str).to_numpy(),
                          "token": tokens}, columns=VAULT_SCHEMA.names)
    order = vault["household_id"].argsort(kind="stable").to_numpy()
    vault = vault.iloc[order].reset_index(drop=True)
    index = _index_rows(vault["household_id"],
                        entries["payload"].reset_index(drop=True).iloc[order], index_key)
    _write(Path(out), vault, index, snapshot=snapshot, index_key=index_key, stamp=stamp)
    return VaultSummary(snapshot, len(vault), len(index))


def _write(out: Path, vault: pd.DataFrame, index: pd.DataFrame, *, snapshot: str,
           index_key: str, stamp: dict[str, Any] | None) -> None:
    with atomic.replacing(out, marker=MANIFEST_FILE) as staging:
        pq.write_table(pa.Table.from_pandas(vault, schema=VAULT_SCHEMA, preserve_index=False),
                       staging / VAULT_FILE)
        pq.write_table(pa.Table.from_pandas(index, schema=INDEX_SCHEMA, preserve_index=False),
                       staging / INDEX_FILE)
        atomic.write_json({"format": FORMAT, "snapshot": snapshot, "households": len(vault),
                           "index_entries": len(index),
                           "index_key": key_fingerprint(index_key), "stamp": stamp},
                          staging / MANIFEST_FILE)


def read_manifest(out: Path) -> dict[str, Any]:
    """The vault's manifest; InputError when there is no vault."""
    path = Path(out) / MANIFEST_FILE
    if not path.is_file():
        raise InputError("no identity vault: run `assist ingest` (it writes the vault)",
                         file=str(path))
    return json.loads(path.read_text(encoding="utf-8"))


def rotate_vault(*, out: Path, keys: Sequence[str], index_key: str) -> VaultSummary:
    """Re-encrypt every token under the newest of ``keys`` (the older ones still decrypt);
    afterwards the old keys can be removed from ``ASSIST_IDENTITY_KEYS``. The blind index
    is kept (its key is rotated by re-ingesting with the new index key)."""
    manifest = read_manifest(out)
    box = fernet(keys)
    vault = pq.read_table(Path(out) / VAULT_FILE).to_pandas()
    index = pq.read_table(Path(out) / INDEX_FILE).to_pandas()
    try:
        vault["token"] = [box.rotate(t) for t in vault["token"]]
    except InvalidToken:
        raise InputError("a vault token cannot be decrypted with any key of "
                         "ASSIST_IDENTITY_KEYS: keep the old key in the list (after the new one) "
                         "until the rotation is done", file=str(Path(out) / VAULT_FILE)) from None
    if manifest.get("index_key") != key_fingerprint(index_key):
        raise InputError("ASSIST_IDENTITY_INDEX_KEY is not the key the vault's blind index "
                         "was written with", file=str(Path(out) / MANIFEST_FILE))
    stamp = manifest.get("stamp")
    if stamp is not None:
        stamp = {**stamp, "key": key_fingerprint(keys[0])}
    _write(Path(out), vault, index, snapshot=manifest["snapshot"], index_key=index_key,
           stamp=stamp)
    return VaultSummary(manifest["snapshot"], len(vault), len(index))
