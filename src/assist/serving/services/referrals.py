"""Referral lists scoped to the caller's jurisdiction.

The default order (``rank_street``) lists this month's allocated visits first — every street's,
by street and rank — then the rest by street and rank, so a caseworker of several streets finds
each street's allocated households on the first page. Asking for a street or community outside
the caller's streets is a 403 that says so (not an empty list)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import Json
from sqlalchemy import ColumnElement, Select, Text, bindparam, cast, func, select
from sqlalchemy.orm import Session

from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import Jurisdiction, Referral, Snapshot
from assist.serving.schemas import ReferralPage, ReferralPublic
from assist.serving.services.snapshots import current_snapshot

Sort = Literal["rank_street", "rank_district", "-probability", "probability", "community",
               "-deprivation_score"]
SORTS = {
    "rank_street": (Referral.allocated.desc(), Referral.street_code, Referral.rank_street),
    "rank_district": (Referral.rank_district,),
    "-probability": (Referral.probability.desc(), Referral.rank_district),
    "probability": (Referral.probability, Referral.rank_district),
    "community": (Referral.community_code, Referral.rank_community),
    "-deprivation_score": (Referral.deprivation_score.desc(), Referral.rank_district),
}


@dataclass(frozen=True)
class Filters:
    """Referral list filters (None: any)."""

    street: str | None = None
    community: str | None = None
    band: str | None = None
    cause: str | None = None
    programme: str | None = None
    flag: str | None = None
    status: str | None = None
    allocated: bool | None = None


def check_scope(session: Session, *, who: Principal, street: str | None,
                community: str | None) -> None:
    """403 naming the field when ``street`` or ``community`` lies outside the caller's
    streets (district roles see every street)."""
    if who.streets is None:
        return
    mine = ", ".join(who.streets)
    if street is not None and street not in who.streets:
        raise ApiError(403, "outside_streets",
                       f"street {street} is not one of your streets ({mine})", field="street")
    if community is not None:
        parent = session.scalar(select(Jurisdiction.parent_code)
                                .where(Jurisdiction.code == community))
        if parent not in who.streets:
            raise ApiError(403, "outside_streets", f"community {community} is not in your "
                           f"streets ({mine})", field="community")


def communities(session: Session, streets: list[str] | None) -> list[tuple[str, str]]:
    """``(community code, street code)`` of the case store's communities in ``streets``
    (None: the district), by code."""
    q = select(Jurisdiction.code, Jurisdiction.parent_code).where(
        Jurisdiction.level == "community").order_by(Jurisdiction.code)
    if streets is not None:
        q = q.where(Jurisdiction.parent_code.in_(streets))
    return [(c, str(p)) for c, p in session.execute(q).all()]


def allocated_by_street(session: Session, *, who: Principal) -> list[tuple[str, int]]:
    """This month's allocated visits per street of the caller's jurisdiction, by street."""
    snapshot_id, _ = _current_snapshot_key(session)
    q = (select(Referral.street_code, func.count())
         .where(Referral.snapshot_id == snapshot_id, Referral.allocated.is_(True))
         .group_by(Referral.street_code).order_by(Referral.street_code))
    if who.streets is not None:
        q = q.where(Referral.street_code.in_(who.streets))
    return [(street, int(n)) for street, n in session.execute(q).all()]


def snapshot_or_503(session: Session) -> Snapshot:
    """The current snapshot; 503 before any is loaded."""
    snap = current_snapshot(session)
    if snap is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return snap


class _ListedReferral(ReferralPublic):
    """A listed referral as read: its JSON list columns arrive as their stored text and are
    parsed by pydantic-core while the page is validated (no Python call per value)."""

    top_factors_en: Json[list[str]]
    top_factors_zh: Json[list[str]]
    programmes: Json[list[str]]
    allocated_programmes: Json[list[str]]
    flags: Json[list[str]]
    receiving: Json[list[str] | None] | None = None  # JSON null: not known


class _ListedPage(ReferralPage):
    """A page of :class:`_ListedReferral` (serialised exactly as a :class:`ReferralPage`)."""

    items: list[_ListedReferral]


#: the JSON list columns, read as text (:class:`_ListedReferral`)
_JSON_TEXT = ("top_factors_en", "top_factors_zh", "programmes", "allocated_programmes", "flags",
              "receiving")
#: the columns a listed referral shows (:class:`ReferralPublic`), selected as plain rows
_COLUMNS = tuple(cast(getattr(Referral, name), Text).label(name) if name in _JSON_TEXT
                 else getattr(Referral, name) for name in ReferralPublic.model_fields)
#: the current snapshot, as a subquery: the list and its total are one statement
_CURRENT = select(Snapshot.id).order_by(Snapshot.as_of.desc()).limit(1).scalar_subquery()
#: each condition a list may add, by name, with its bound parameter of the same name
_CONDITIONS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "streets": lambda: Referral.street_code.in_(bindparam("streets", expanding=True)),
    "street": lambda: Referral.street_code == bindparam("street"),
    "community": lambda: Referral.community_code == bindparam("community"),
    "band": lambda: Referral.band == bindparam("band"),
    "cause": lambda: Referral.primary_cause == bindparam("cause"),
    "status": lambda: Referral.status == bindparam("status"),
    "allocated": lambda: Referral.allocated == bindparam("allocated"),
    "programme": lambda: Referral.programme_key.contains(bindparam("programme"), escape="/"),
    "flag": lambda: Referral.flag_key.contains(bindparam("flag"), escape="/"),
}


def _like(text: str) -> str:
    """``text`` taken literally inside LIKE (escape character ``/``, as ``autoescape`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _bound(who: Principal, f: Filters) -> dict[str, Any]:
    """The list's bound values by condition name: the caller's streets and the filters set."""
    values: dict[str, Any] = {} if who.streets is None else {"streets": list(who.streets)}
    for name, value in (("street", f.street), ("community", f.community), ("band", f.band),
                        ("cause", f.cause), ("status", f.status), ("allocated", f.allocated)):
        if value is not None:
            values[name] = value
    for name, code in (("programme", f.programme), ("flag", f.flag)):
        if code is not None:
            values[name] = _like(f";{code};")
    return values


@cache
def _page_statement(sort: Sort, names: tuple[str, ...]) -> Select[Any]:
    """The statement of a page (its rows, the snapshot's month, the total) for a sort and the
    conditions ``names``, built once: SQLAlchemy then reuses its compiled form and cache key,
    and each request only binds values (``offset``, ``limit`` and one per condition)."""
    where = [Referral.snapshot_id == _CURRENT, *(_CONDITIONS[n]() for n in names)]
    total = select(func.count()).select_from(Referral).where(*where).scalar_subquery()
    return (select(*_COLUMNS, Snapshot.as_of.label("_as_of"), total.label("_total"))
            .join(Snapshot, Referral.snapshot_id == Snapshot.id).where(*where)
            .order_by(*SORTS[sort], Referral.id)
            .offset(bindparam("offset")).limit(bindparam("limit")))


def _current_snapshot_key(session: Session) -> tuple[int, str]:
    """Id and month of the current snapshot (without its summary); 503 before any is loaded."""
    row = session.execute(select(Snapshot.id, Snapshot.as_of)
                          .order_by(Snapshot.as_of.desc()).limit(1)).first()
    if row is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return row.id, row.as_of


def list_referrals(session: Session, *, who: Principal, filters: Filters, sort: Sort,
                   page: int, page_size: int) -> ReferralPage:
    """One page of the current snapshot's referrals in the caller's jurisdiction.

    One statement reads the page's listed columns (plain rows, no ORM objects), the snapshot's
    month and the total; only a page past the end (no rows) asks again for the month and the
    total (503 when no snapshot is loaded)."""
    check_scope(session, who=who, street=filters.street, community=filters.community)
    bound = _bound(who, filters)
    result = session.connection().execute(  # Core rows: no ORM loading for plain columns
        _page_statement(sort, tuple(bound)),
        {**bound, "offset": (page - 1) * page_size, "limit": page_size})
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result]
    if rows:
        as_of, total = rows[0]["_as_of"], rows[0]["_total"]
    else:
        snapshot_id, as_of = _current_snapshot_key(session)
        total = session.scalar(select(func.count()).select_from(Referral).where(
            Referral.snapshot_id == snapshot_id, *(_CONDITIONS[n]() for n in bound)), bound)
    return _ListedPage.model_validate({"as_of": as_of, "total": int(total or 0), "page": page,
                                       "page_size": page_size, "items": rows})
