"""Which columns of a flat household table name its street and community.

A YAML catalog (:mod:`assist.features.custom`) may declare them, so scoring can rank and
allocate visits per street and community::

    jurisdiction:
      street: street_code        # required in the section: the street (街道/镇) column
      community: community_code  # optional: the community (社区/村) column; default: the street

Without the section (and without the CLI's ``--street-column``), the whole table is ranked as
one street.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assist.errors import ConfigError
from assist.yamlfile import read_yaml


class JurisdictionSpec(BaseModel):
    """The ``jurisdiction`` section of a YAML catalog, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    street: Annotated[str, Field(min_length=1)]
    community: Annotated[str, Field(min_length=1)] | None = None


def load_jurisdiction(path: Path | str) -> JurisdictionSpec | None:
    """The ``jurisdiction`` section of the YAML catalog at ``path`` (None: not declared).

    :func:`assist.features.custom.load_catalog` validates the whole file first; this reads
    only the section (a bad one is a :class:`ConfigError` naming file and section)."""
    raw: Any = read_yaml(Path(path), what="catalog")
    section = raw.get("jurisdiction") if isinstance(raw, dict) else None
    if section is None:
        return None
    try:
        return JurisdictionSpec.model_validate(section)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in ("jurisdiction", *err["loc"]))
        raise ConfigError(f"catalog file {path}, field {field!r}: {err['msg']}") from None
