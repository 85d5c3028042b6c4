"""Response models of the identity service (who and where a household is), the search and
the visit sheet; shown only to caseworkers of the household's own street."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: relation to the household head, Chinese first (the registry's codes)
RELATIONS_ZH = {"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母",
                "grandchild": "孙子女", "sibling": "兄弟姐妹", "other": "其他"}
#: why an identity was shown (the audit row's ``purpose``)
Purpose = Literal["household_page", "visit_sheet", "export", "search", "api"]


class Member(BaseModel):
    """A member of the household as the registry holds it."""

    name: str | None
    relation: str | None = Field(description="relation to the head (registry code)")
    relation_zh: str | None = None
    age: int | None = None
    sex: str | None = None


class IdentityPublic(BaseModel):
    """Who and where the household is (head's name, address, phone, members)."""

    household_id: str
    street_code: str
    community_code: str
    head_name: str | None
    address: str | None
    phone: str | None
    members: list[Member]


class SearchHit(BaseModel):
    """A household found by ID number, name or address, in the caller's streets."""

    household_id: str
    street_code: str
    community_code: str
    head_name: str | None
    address: str | None
    matched: Literal["id_number", "name", "address"]


class SearchResult(BaseModel):
    """Households found (at most ``limit``; ``truncated`` when more matched)."""

    mode: Literal["id_number", "fragment"]
    items: list[SearchHit]
    truncated: bool
    available: bool = Field(default=True, description=(
        "false: no identity vault is loaded (run `assist ingest`), so nothing can be found"))
