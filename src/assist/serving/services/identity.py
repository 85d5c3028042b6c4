"""The identity service: the only reader of the identity vault (:mod:`assist.ingest.identity`).

A household's identity (head's name, address, phone, members) is shown only to a
**caseworker** whose streets include the household's street; managers, data scientists and
admins never get it, whatever they ask. Every reveal is an audit row
(``identity.reveal``: user, household, ``detail.purpose``) committed before the caller sees
the identity; a search adds one ``identity.search`` row listing the households it returned
(never the query, which is personal data itself).

Search (caseworkers only):

* an 18-character ID number: exact, through the blind index (HMAC of the normalised number
  under its own key) — no plaintext index exists and nothing is decrypted to find it;
* a name or address fragment (2+ characters): the caseworker's own streets' entries are
  decrypted and matched in memory; other streets are never decrypted. Cost: one Fernet
  decryption (~25–35 µs) and the match, ~80–130 µs per household of the caller's streets per
  search (``benchmarks/bench_identity.py``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from assist.errors import InputError
from assist.ingest.identity import (
    INDEX_FILE,
    MANIFEST_FILE,
    VAULT_FILE,
    blind,
    fernet,
    looks_like_id_number,
    normalise_id_number,
    normalise_name,
)
from assist.ingest.pseudonym import key_fingerprint
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import AuditEntry, HouseholdScore
from assist.serving.schemas_identity import (
    RELATIONS_ZH,
    IdentityPublic,
    Member,
    Purpose,
    SearchHit,
    SearchResult,
)
from assist.serving.services.snapshots import current_snapshot
from assist.settings import Settings, SettingsError

log = logging.getLogger("assist.serving")
REVEAL, SEARCH = "identity.reveal", "identity.search"
SEARCH_LIMIT = 50
MIN_FRAGMENT, MAX_QUERY = 2, 64


def sees_identity(who: Principal | None) -> bool:
    """Whether the caller's role may ever see identities: caseworkers only."""
    return who is not None and who.role == "caseworker" and who.streets is not None


def _unavailable(why: str) -> ApiError:
    return ApiError(503, "identity_unavailable", f"the identity vault {why}")


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int]
    frame: pd.DataFrame  # index household_id; street_code, community_code, token
    index: dict[str, list[str]]  # blind digest -> household ids


class Vault:
    """The vault's files under ``folder``, loaded once and again when they change."""

    def __init__(self, folder: Path, *, keys: Sequence[str], index_key: str) -> None:
        self.folder = Path(folder)
        self._box: MultiFernet = fernet(keys)
        self._index_key = index_key
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Loaded | None:
        manifest = self.folder / MANIFEST_FILE
        try:
            st = manifest.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._loaded is not None and self._loaded.stamp == stamp:
                return self._loaded
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            if meta.get("index_key") != key_fingerprint(self._index_key):
                raise _unavailable("was written with another blind-index key "
                                   "(ASSIST_IDENTITY_INDEX_KEY)")
            frame = pq.read_table(self.folder / VAULT_FILE).to_pandas().set_index("household_id")
            idx = pq.read_table(self.folder / INDEX_FILE)
            index: dict[str, list[str]] = {}
            for d, h in zip(idx.column("digest").to_pylist(),
                            idx.column("household_id").to_pylist(), strict=True):
                index.setdefault(d, []).append(h)
            self._loaded = _Loaded(stamp, frame, index)
            return self._loaded

    def present(self) -> bool:
        """Whether the vault has been written (ingest writes it)."""
        return self._load() is not None

    def street_of(self, household_id: str) -> str | None:
        """The household's street in the vault (None: not in the vault)."""
        loaded = self._load()
        if loaded is None or household_id not in loaded.frame.index:
            return None
        return str(loaded.frame.at[household_id, "street_code"])

    def identity(self, household_id: str) -> IdentityPublic | None:
        """The decrypted identity of one household (None: not in the vault)."""
        loaded = self._load()
        if loaded is None or household_id not in loaded.frame.index:
            return None
        row = loaded.frame.loc[household_id]
        return _public(household_id, row["street_code"], row["community_code"],
                       self._open(row["token"]))

    def _open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._box.decrypt(token))
        except InvalidToken:
            log.error("identity vault entry cannot be decrypted with ASSIST_IDENTITY_KEYS")
            raise _unavailable("cannot be decrypted with the configured keys "
                               "(ASSIST_IDENTITY_KEYS)") from None

    def find_id_number(self, number: str) -> list[str]:
        """Households holding a member with this ID number (blind index; exact)."""
        loaded = self._load()
        if loaded is None:
            raise _unavailable("is missing: run `assist ingest`")
        return list(loaded.index.get(blind("id", number, self._index_key), []))

    def entries(self, streets: Iterable[str]) -> Iterable[tuple[str, str, str, dict[str, Any]]]:
        """Decrypted entries of ``streets`` only: (household, street, community, identity)."""
        loaded = self._load()
        if loaded is None:
            raise _unavailable("is missing: run `assist ingest`")
        mine = loaded.frame[loaded.frame["street_code"].isin(list(streets))]
        for h, street, community, token in mine[["street_code", "community_code", "token"]
                                                ].itertuples():
            yield str(h), str(street), str(community), self._open(token)


def vault_of(state: Any) -> Vault | None:  # noqa: ANN401 - the app's state
    """The app's vault (opened once from its settings and kept on ``state``); None when the
    identity keys are not configured (outside dev they must be: the refusal is logged)."""
    vault = getattr(state, "identity_vault", None)
    if vault is None:
        settings: Settings = state.settings
        try:
            keys, index_key = settings.identity_secrets()
            vault = Vault(settings.identity_dir, keys=keys, index_key=index_key)
        except (SettingsError, InputError) as exc:
            log.error("identity vault disabled: %s", exc)
            return None
        state.identity_vault = vault
    return vault


def _public(household_id: str, street: str, community: str,
            payload: dict[str, Any]) -> IdentityPublic:
    members = [Member(name=m.get("name"), relation=m.get("relation"),
                      relation_zh=RELATIONS_ZH.get(m.get("relation") or ""), age=m.get("age"),
                      sex=m.get("sex")) for m in payload.get("members", [])]
    return IdentityPublic(household_id=household_id, street_code=str(street),
                          community_code=str(community), head_name=payload.get("head_name"),
                          address=payload.get("address"), phone=payload.get("phone"),
                          members=members)


def _record_reveals(session: Session, *, who: Principal, household_ids: Sequence[str],
                    purpose: Purpose, endpoint: str) -> None:
    if household_ids:
        session.execute(insert(AuditEntry), [
            audit.entry(who=who, action=REVEAL, endpoint=endpoint, household_id=h,
                        detail={"purpose": purpose}) for h in household_ids])


def reveal_many(session: Session, *, who: Principal, household_ids: Sequence[str],
                purpose: Purpose, endpoint: str, vault: Vault | None) -> dict[str, IdentityPublic]:
    """Identities of those of ``household_ids`` the caller may see (a caseworker, the
    household in one of their streets, in the vault); one audit row per household shown,
    committed before returning. Anyone else gets an empty mapping and no row."""
    if not sees_identity(who) or vault is None:
        return {}
    out: dict[str, IdentityPublic] = {}
    for h in dict.fromkeys(household_ids):
        street = vault.street_of(h)
        if street is not None and who.sees_street(street):
            found = vault.identity(h)
            if found is not None:
                out[h] = found
    _record_reveals(session, who=who, household_ids=list(out), purpose=purpose,
                    endpoint=endpoint)
    session.commit()
    return out


def reveal(session: Session, *, who: Principal, household_id: str, purpose: Purpose,
           endpoint: str, vault: Vault | None) -> IdentityPublic | None:
    """One household's identity for the caller (see :func:`reveal_many`), or None."""
    return reveal_many(session, who=who, household_ids=[household_id], purpose=purpose,
                       endpoint=endpoint, vault=vault).get(household_id)


def _fragment_hits(vault: Vault, streets: Sequence[str], text: str) -> list[SearchHit]:
    hits = []
    for h, street, community, p in vault.entries(streets):
        names = [normalise_name(m.get("name") or "") for m in p.get("members", [])]
        matched = ("name" if any(text in n for n in names if n) else
                   "address" if text in normalise_name(p.get("address") or "") else None)
        if matched:
            hits.append(SearchHit(household_id=h, street_code=street, community_code=community,
                                  head_name=p.get("head_name"), address=p.get("address"),
                                  matched=matched))
    return sorted(hits, key=lambda x: (x.street_code, x.address or "", x.household_id))


def _scored(session: Session, household_ids: Sequence[str]) -> set[str]:
    """Those of ``household_ids`` in the current snapshot (their pages open)."""
    snap = current_snapshot(session)
    if snap is None or not household_ids:
        return set()
    return set(session.scalars(select(HouseholdScore.household_id).where(
        HouseholdScore.snapshot_id == snap.id,
        HouseholdScore.household_id.in_(list(household_ids)))))


def search(session: Session, *, who: Principal, query: str, endpoint: str,
           vault: Vault | None, limit: int = SEARCH_LIMIT) -> SearchResult:
    """Households in the caller's streets by ID number (exact) or name/address fragment;
    caseworkers only (403 otherwise); without a vault, nothing (``available`` false).
    Audited: one ``identity.search`` row listing the households returned and one reveal row
    per household."""
    if not sees_identity(who):
        raise ApiError(403, "forbidden", "only caseworkers search households by identity")
    text = normalise_name(query)
    if not MIN_FRAGMENT <= len(text) <= MAX_QUERY:
        raise ApiError(422, "invalid_query", f"the search text must have {MIN_FRAGMENT} to "
                       f"{MAX_QUERY} characters", field="q")
    streets = list(who.streets or ())
    if vault is None or not vault.present():
        return SearchResult(mode="fragment", items=[], truncated=False, available=False)
    if looks_like_id_number(text):
        mode, ids = "id_number", vault.find_id_number(normalise_id_number(text))
        hits = [SearchHit(household_id=h, street_code=i.street_code,
                          community_code=i.community_code, head_name=i.head_name,
                          address=i.address, matched="id_number")
                for h in ids if (s := vault.street_of(h)) is not None and s in streets
                and (i := vault.identity(h)) is not None]
    else:
        mode, hits = "fragment", _fragment_hits(vault, streets, text)
    scored = _scored(session, [x.household_id for x in hits])
    hits = [x for x in hits if x.household_id in scored]
    shown = hits[:limit]
    audit.record(session, who=who, action=SEARCH, endpoint=endpoint,
                 detail={"mode": mode, "returned": len(shown),
                         "household_ids": audit.listed(x.household_id for x in shown)})
    _record_reveals(session, who=who, household_ids=[x.household_id for x in shown],
                    purpose="search", endpoint=endpoint)
    session.commit()
    return SearchResult(mode=mode, items=shown, truncated=len(hits) > limit)
