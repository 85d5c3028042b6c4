"""Settings for every stage: one pydantic-settings class, read from ``ASSIST_*`` variables.

Settings are built where they are needed (``get_settings()`` in the CLI, a dependency in the
API) and passed down; nothing below the CLI reads the environment itself.

Errors are one line naming the variable (:func:`get_settings` raises :class:`SettingsError`).
Commands that never pseudonymise (``simulate``, ``index``, ``validate-config``,
``readme-table``) build :class:`KeylessSettings`: outside dev they run without
``ASSIST_PSEUDONYM_KEY``, and reading the key from them raises the same one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assist.errors import AssistError

DEV_PSEUDONYM_KEY = "assist-development-key-not-for-real-data"
DEV_TOKEN_SECRET = "assist-development-token-secret-not-for-real-use"
#: development keys of the identity vault (Fernet key; blind-index HMAC key): dev only
DEV_IDENTITY_KEY = "KTnmrvu25LX4i0CyqlQFuNCkZuY4AzzKAkGyPvdA6NY="
DEV_IDENTITY_INDEX_KEY = "assist-development-identity-index-key-not-for-real-data"


ENV_PREFIX = "ASSIST_"
MISSING_PSEUDONYM_KEY = (
    "ASSIST_PSEUDONYM_KEY is not set: the built-in development key may only be used with "
    "ASSIST_ENV=dev (simulated data). Set ASSIST_PSEUDONYM_KEY to a secret of at least 32 "
    "characters.")


class SettingsError(AssistError, ValueError):
    """Raised when the settings are unsafe or inconsistent for the chosen environment; the
    message is one line naming the variable."""


class MissingKey(SecretStr):
    """Stands for an unset pseudonym key in :class:`KeylessSettings`: reading it refuses."""

    def get_secret_value(self) -> str:
        """Refuse: this command was started without a pseudonym key."""
        raise SettingsError(MISSING_PSEUDONYM_KEY)


class Settings(BaseSettings):
    """Runtime settings. Environment variables use the prefix ``ASSIST_`` (e.g. ``ASSIST_ENV``)."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_", extra="ignore")

    #: whether the pseudonym key is checked when the settings are built (see KeylessSettings)
    requires_pseudonym_key: ClassVar[bool] = True

    env: Literal["dev", "test", "production"] = "production"
    workspace: Path = Path("var")
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    mlflow_tracking_uri: str | None = None
    #: case store (SQLAlchemy URL); None: a SQLite file in the workspace
    database_url: str | None = None
    #: signs API bearer tokens; required outside dev when the API is used (see api_token_secret)
    token_secret: SecretStr | None = None
    token_ttl_minutes: int = 480
    #: identity vault: Fernet keys, comma-separated, newest first (see identity_secrets)
    identity_keys: SecretStr | None = None
    #: identity vault: HMAC key of the blind index (ID numbers, names); ≥ 32 characters
    identity_index_key: SecretStr | None = None
    #: largest request body the API accepts
    api_max_body_bytes: int = 65_536
    #: sign-in throttle (API token and page sign-in alike, see assist.serving.throttle):
    #: this many wrong passwords for one username within the window lock it out ...
    login_max_failures: int = Field(default=5, ge=1)
    #: ... and this many from one client address lock the address out
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    #: how long a lock-out lasts: every attempt gets 429 with Retry-After meanwhile
    login_lockout_seconds: int = Field(default=300, ge=1)
    #: MQTT broker of the smart water meters (水管家), e.g. ``mqtt://127.0.0.1:1883``; None:
    #: ``assist meters listen`` refuses and the demo replays a file (``assist meters replay``)
    mqtt_url: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env != "dev" and self.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY:
            if not self.requires_pseudonym_key:
                self.pseudonym_key = MissingKey("")
                return self
            raise SettingsError(MISSING_PSEUDONYM_KEY)
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

    def identity_secrets(self) -> tuple[list[str], str]:
        """The identity vault's Fernet keys (newest first) and blind-index key; the built-in
        development keys only with ASSIST_ENV=dev. Checked when the vault is written or read."""
        keys = self.identity_keys.get_secret_value() if self.identity_keys else None
        index = self.identity_index_key.get_secret_value() if self.identity_index_key else None
        for name, value, dev in (("ASSIST_IDENTITY_KEYS", keys, DEV_IDENTITY_KEY),
                                 ("ASSIST_IDENTITY_INDEX_KEY", index, DEV_IDENTITY_INDEX_KEY)):
            if (value is None or dev in [v.strip() for v in value.split(",")]) \
                    and self.env != "dev":
                raise SettingsError(
                    f"{name} is not set: the built-in development identity key may only be "
                    f"used with ASSIST_ENV=dev (simulated data). Set {name}.")
        fernet = [k.strip() for k in (keys or DEV_IDENTITY_KEY).split(",") if k.strip()]
        if not fernet:
            raise SettingsError("ASSIST_IDENTITY_KEYS holds no key.")
        if len(index or DEV_IDENTITY_INDEX_KEY) < 32:
            raise SettingsError("ASSIST_IDENTITY_INDEX_KEY must be at least 32 characters long.")
        return fernet, index or DEV_IDENTITY_INDEX_KEY

    @property
    def identity_dir(self) -> Path:
        """The encrypted identity vault (outside the store: no feature ever reads it)."""
        return self.workspace / "identity"

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


class KeylessSettings(Settings):
    """Settings of a command that never pseudonymises: outside dev an unset key is allowed
    and stands as :class:`MissingKey` (reading it raises :class:`SettingsError`)."""

    requires_pseudonym_key: ClassVar[bool] = False


def _one_line(exc: ValidationError) -> str:
    """``ASSIST_<FIELD>: message`` for the first error (a model-level check names its own
    variable), on one line, never echoing the value."""
    err = exc.errors(include_url=False, include_input=False)[0]
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    loc = [str(p) for p in err.get("loc", ()) if str(p)]
    name = f"{ENV_PREFIX}{loc[0].upper()}: " if loc else ""
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return " ".join(f"{name}{message}{more}".split())


def get_settings(*, needs_pseudonym_key: bool = True, **overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides winning;
    ``needs_pseudonym_key`` False for commands that never pseudonymise. Raises
    :class:`SettingsError` (one line)."""
    cls = Settings if needs_pseudonym_key else KeylessSettings
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
