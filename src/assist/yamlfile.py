"""Reading the project's YAML files (catalogs, experiment and scoring configs, rule tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assist.errors import ConfigError


def read_yaml(path: Path | str, *, what: str) -> Any:  # noqa: ANN401 - whatever the YAML holds
    """Parse a YAML file; a missing, unreadable or malformed file is a :class:`ConfigError`
    naming ``what`` it is and the path."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"{what} file {path} cannot be read: {reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} file {path} is not valid YAML: {exc}") from None
