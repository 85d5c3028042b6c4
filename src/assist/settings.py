"""Settings for every stage: one pydantic-settings class, read from ``ASSIST_*`` variables.

Settings are built where they are needed (``get_settings()`` in the CLI, a dependency in the
API) and passed down; nothing below the CLI reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PSEUDONYM_KEY = "assist-development-key-not-for-real-data"


class SettingsError(ValueError):
    """Raised when the settings are unsafe or inconsistent for the chosen environment."""


class Settings(BaseSettings):
    """Runtime settings. Environment variables use the prefix ``ASSIST_`` (e.g. ``ASSIST_ENV``)."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_", extra="ignore")

    env: Literal["dev", "test", "production"] = "production"
    workspace: Path = Path("var")
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    mlflow_tracking_uri: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> "Settings":
        if self.env != "dev" and self.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY:
            raise SettingsError(
                "ASSIST_PSEUDONYM_KEY is not set: the built-in development key may only be used "
                "with ASSIST_ENV=dev (simulated data). Set ASSIST_PSEUDONYM_KEY to a secret of "
                "at least 32 characters."
            )
        if len(self.pseudonym_key.get_secret_value()) < 32:
            raise SettingsError("ASSIST_PSEUDONYM_KEY must be at least 32 characters long.")
        return self

    # Workspace layout -------------------------------------------------------------------
    @property
    def source_dir(self) -> Path:
        """Raw department extracts (or the simulator's output)."""
        return self.workspace / "source"

    @property
    def truth_dir(self) -> Path:
        """Hidden truth of a simulated district; read only by evaluation code."""
        return self.workspace / "truth"

    @property
    def store_dir(self) -> Path:
        """Validated, pseudonymised tables written by ingest."""
        return self.workspace / "store"

    @property
    def features_dir(self) -> Path:
        """Household feature tables, one per as-of month."""
        return self.workspace / "features"

    @property
    def mlflow_uri(self) -> str:
        """MLflow tracking URI: the setting, or a SQLite store in the workspace."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.workspace / 'mlflow.db').resolve()}"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
