"""Settings from BLINK_DESKTOP_* environment variables and the optional config file.

The environment wins over the file. A wrong value becomes one SettingsError that names the
setting, where it came from and what is accepted.
"""

from __future__ import annotations

import base64
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from blink_desktop import paths
from blink_desktop.basiq.identifiers import Identifier
from blink_desktop.errors import SettingsError

ENV_PREFIX = "BLINK_DESKTOP_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    api_url: AnyHttpUrl | None = Field(
        default=None, description="Base URL of the Basiq API; unset means the embedded emulator."
    )
    api_key: SecretStr | None = Field(default=None, description="Basiq API key (direct mode).")
    blink_url: AnyHttpUrl | None = Field(
        default=None, description="URL of the Blink page; unset means the emulator's page."
    )
    data_dir: Path = Field(
        default_factory=paths.default_data_dir, description="Where the local database lives."
    )
    log_dir: Path = Field(default_factory=paths.default_log_dir, description="Where logs go.")
    user: str | None = Field(
        default=None, min_length=1, description="Your identifier (an email, say) for Basiq."
    )
    transport: Literal["iframe", "scheme"] = Field(
        default="iframe", description="How Blink reports events: postMessage or basiq:// URLs."
    )
    flow: Literal["blink", "consent"] = Field(
        default="blink",
        description="How a bank is connected: Blink, or Basiq 3.0's Consent UI (implies 3.0).",
    )
    consent_url: AnyHttpUrl | None = Field(
        default=None,
        description="The Consent UI; unset means Basiq's, or the embedded emulator's.",
    )
    redirect_url: AnyHttpUrl | None = Field(
        default=None,
        description="Your application's redirect URL in Basiq's dashboard (consent flow).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    provider: Literal["auto", "emulator", "direct", "backend"] = Field(
        default="auto",
        description="Who plays the server role; auto picks backend, then direct, then emulator.",
    )
    backend_url: AnyHttpUrl | None = Field(
        default=None, description="Your server (blink-desktop serve), for backend mode."
    )
    client_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="This app's id at your server."
    )
    client_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Client ids `serve` accepts, comma-separated."
    )
    database_url: str | None = Field(
        default=None,
        description="`serve`'s database: a SQLite file path, or a postgresql:// URL.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="For `serve`: the secret of its webhook at Basiq (whsec_…), never logged.",
    )
    basiq_version: Literal["2.0", "2.1", "3.0"] = Field(
        default="2.1", description="basiq-version for tokens (2.1 adds MFA; 3.0 binds tokens)."
    )
    emulator_job_speed: float = Field(
        default=1.0, gt=0, le=1000, description="How much faster the embedded emulator's jobs run."
    )

    @model_validator(mode="before")
    @classmethod
    def _consent_implies_3(cls, data: Any) -> Any:
        # The Consent UI is Basiq 3.0's: with it, an unset basiq-version means 3.0.
        if isinstance(data, dict) and data.get("flow") == "consent":
            return {"basiq_version": "3.0", **data}
        return data

    @field_validator("basiq_version")
    @classmethod
    def _version_of_flow(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("flow") == "consent" and value != "3.0":
            raise ValueError(
                f"{ENV_PREFIX}FLOW=consent needs basiq-version 3.0 (the Consent UI is Basiq "
                f"3.0's); set it to 3.0 or unset it"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("user")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return Identifier.parse(value).value
        except ValueError:
            raise ValueError("expected an email address or a mobile number") from None

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        if value and "://" in value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a SQLite file path or a postgresql://… URL")
        return value or None

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _webhook_secret(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        key = value.removeprefix("whsec_")
        try:
            valid = bool(base64.b64decode(key + "=" * (-len(key) % 4), validate=True))
        except ValueError:
            valid = False
        if value and not valid:
            raise ValueError("expected the webhook's secret as Basiq shows it: whsec_ and base64")
        return value or None

    @field_validator("client_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=paths.config_file()),
        )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise SettingsError with a message a person can act on."""
    config = paths.config_file()
    if os.environ.get(paths.CONFIG_ENV) and not config.is_file():
        raise SettingsError(
            f"{paths.CONFIG_ENV} points to {config}, which is not a file. Create it, or unset "
            f"{paths.CONFIG_ENV} to use {paths.default_config_file()}."
        )
    unknown = sorted(
        name
        for name in os.environ
        if name.startswith(ENV_PREFIX) and name not in _KNOWN_ENV and name != paths.CONFIG_ENV
    )
    if unknown:
        known = ", ".join(sorted(_KNOWN_ENV | {paths.CONFIG_ENV}))
        raise SettingsError(
            f"Unknown setting {', '.join(unknown)} in the environment. Known settings: {known}."
        )
    if config.exists():
        try:
            tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"The config file {config} cannot be read: {exc}") from exc
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, config)) from None


_KNOWN_ENV = frozenset(ENV_PREFIX + name.upper() for name in Settings.model_fields)


def _explain(exc: ValidationError, config: Path) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        env_name = ENV_PREFIX + field.upper()
        name = env_name if env_name in os.environ else f"{field} in {config}"
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(Settings.model_fields))
            lines.append(f"Unknown setting {name}. Known settings: {known}.")
            continue
        value = "" if field in _SECRET_FIELDS else f" = {error.get('input')!r}"
        lines.append(f"Setting {name}{value} is not valid: {_accepted(error, field)}.")
    return "\n".join(lines)


_SECRET_FIELDS = {"api_key", "database_url", "webhook_secret"}  # a URL may hold a password


# What an example URL looks like, for a setting whose example is not Basiq's API.
_URL_EXAMPLES = {
    "consent_url": "https://consent.basiq.io/home",
    "redirect_url": "https://app.example.com/basiq/return",
}


def _accepted(error: Any, field: str = "") -> str:
    expected = error.get("ctx", {}).get("expected")
    if expected:
        return f"accepted values are {expected}"
    if str(error["type"]).startswith("url"):
        example = _URL_EXAMPLES.get(field, "https://au-api.basiq.io")
        return f"expected an http:// or https:// URL, such as {example}"
    return str(error["msg"]).removeprefix("Value error, ").rstrip(".")
