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
DEV_TOKEN_SECRET = "assist-development-token-secret-not-for-real-use"


class SettingsError(ValueError):
    """Raised when the settings are unsafe or inconsistent for the chosen environment."""


class Settings(BaseSettings):
    """Runtime settings. Environment variables use the prefix ``ASSIST_`` (e.g. ``ASSIST_ENV``)."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_", extra="ignore")

    env: Literal["dev", "test", "production"] = "production"
    workspace: Path = Path("var")
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    mlflow_tracking_uri: str | None = None
    #: case store (SQLAlchemy URL); None: a SQLite file in the workspace
    database_url: str | None = None
    #: signs API bearer tokens; required outside dev when the API is used (see api_token_secret)
    token_secret: SecretStr | None = None
    token_ttl_minutes: int = 480
    #: largest request body the API accepts
    api_max_body_bytes: int = 65_536

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env != "dev" and self.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY:
            raise SettingsError(
                "ASSIST_PSEUDONYM_KEY is not set: the built-in development key may only be used "
                "with ASSIST_ENV=dev (simulated data). Set ASSIST_PSEUDONYM_KEY to a secret of "
                "at least 32 characters."
            )
        if len(self.pseudonym_key.get_secret_value()) < 32:
            raise SettingsError("ASSIST_PSEUDONYM_KEY must be at least 32 characters long.")
        return self

    def api_token_secret(self) -> str:
        """The token-signing secret; the built-in development secret only with ASSIST_ENV=dev.

        Checked when the API or ``assist users`` needs it, so batch stages run without one.
        """
        secret = self.token_secret.get_secret_value() if self.token_secret else None
        if secret is None or secret == DEV_TOKEN_SECRET:
            if self.env != "dev":
                raise SettingsError(
                    "ASSIST_TOKEN_SECRET is not set: the built-in development token secret may "
                    "only be used with ASSIST_ENV=dev. Set ASSIST_TOKEN_SECRET to a secret of at "
                    "least 32 characters.")
            return DEV_TOKEN_SECRET
        if len(secret) < 32:
            raise SettingsError("ASSIST_TOKEN_SECRET must be at least 32 characters long.")
        return secret

    @property
    def db_url(self) -> str:
        """Case-store URL: the setting, or a SQLite file in the workspace."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workspace / 'assist.db').resolve()}"

    @property
    def scores_dir(self) -> Path:
        """Monthly scoring snapshots (``assist score``)."""
        return self.workspace / "scores"

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
