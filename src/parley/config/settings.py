"""Parley's typed configuration tree and the one place that reads the environment.

Sources, highest priority first:
1. explicit overrides from the CLI (``--data-dir`` and friends),
2. environment variables ``PARLEY_<SECTION>__<KEY>`` (and ``PARLEY_DATA_DIR``),
3. the user's YAML file (``--config FILE`` or ``PARLEY_CONFIG``),
4. the packaged profile overlay ``profiles/<PARLEY_ENV>.yaml`` (development, production, testing),
5. field defaults.

The user's file sits above the profile so that what a person writes always wins over what
Parley ships.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeGuard

import platformdirs
import yaml
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from parley.config.backend_sections import (
    EspeakConfig,
    FliteConfig,
    LlamaCppConfig,
    LlmConfig,
    OpenAICompatConfig,
    PiperConfig,
    TtsConfig,
    XttsConfig,
)
from parley.config.sections import (
    AudioConfig,
    BargeInConfig,
    ModelServerConfig,
    SttConfig,
    VadConfig,
    WhisperConfig,
)
from parley.config.service_sections import (
    AlertsConfig,
    BackupConfig,
    DevicesConfig,
    McpConfig,
    McpServerConfig,
    MemoryConfig,
    ServerConfig,
    StoreConfig,
    WyomingConfig,
)
from parley.errors import ConfigError

__all__ = [
    "AlertsConfig",
    "AudioConfig",
    "BackupConfig",
    "BargeInConfig",
    "DevicesConfig",
    "EspeakConfig",
    "FliteConfig",
    "LlamaCppConfig",
    "LlmConfig",
    "McpConfig",
    "McpServerConfig",
    "MemoryConfig",
    "ModelServerConfig",
    "OpenAICompatConfig",
    "PROFILES",
    "PiperConfig",
    "Profile",
    "ServerConfig",
    "Settings",
    "StoreConfig",
    "SttConfig",
    "TtsConfig",
    "VadConfig",
    "WhisperConfig",
    "WyomingConfig",
    "XttsConfig",
    "load_settings",
    "profile_yaml",
]

Profile = Literal["development", "production", "testing"]
PROFILES: tuple[Profile, ...] = ("development", "production", "testing")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("parley")))
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object a line, for collectors
    audio: AudioConfig = AudioConfig()
    vad: VadConfig = VadConfig()
    barge_in: BargeInConfig = BargeInConfig()
    stt: SttConfig = SttConfig()
    llm: LlmConfig = LlamaCppConfig()
    tts: TtsConfig = PiperConfig()
    store: StoreConfig = StoreConfig()
    backup: BackupConfig = BackupConfig()
    memory: MemoryConfig = MemoryConfig()
    mcp: McpConfig = McpConfig()
    server: ServerConfig = ServerConfig()
    devices: DevicesConfig = DevicesConfig()
    alerts: AlertsConfig = AlertsConfig()
    wyoming: WyomingConfig = WyomingConfig()

    @property
    def database_path(self) -> Path:
        """The SQLite file (store.url's, else the data directory's)."""
        if self.store.url is not None and self.store.url.startswith("sqlite:///"):
            return Path(self.store.url.removeprefix("sqlite:///")).expanduser()
        return self.data_dir / self.store.database_name

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlLayers(settings_cls))


class _YamlLayers(PydanticBaseSettingsSource):
    """The profile overlay and the user's file, deep-merged (the user's file wins)."""

    layers: list[dict[str, Any]] = []

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole merged mapping

    def __call__(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in _YamlLayers.layers:
            merged = _deep_merge(merged, layer)
        return merged


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, *, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist: fix the path or unset it.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{what} {path} cannot be read: {error}.") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {error}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{what} {path} must hold a mapping of sections (vad:, stt:, llm:, ...).")
    return loaded


def profile_yaml(profile: Profile) -> dict[str, Any]:
    text = resources.files("parley.config.profiles").joinpath(f"{profile}.yaml").read_text("utf-8")
    loaded = yaml.safe_load(text)
    return loaded if isinstance(loaded, dict) else {}


def _is_profile(name: str) -> TypeGuard[Profile]:
    return name in PROFILES


def load_settings(
    *,
    config_file: Path | None = None,
    profile: str | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings once, from all sources; raise ``ConfigError`` with a remedy on any fault."""
    chosen_profile = profile or os.environ.get("PARLEY_ENV") or "development"
    if not _is_profile(chosen_profile):
        raise ConfigError(
            f"Unknown profile {chosen_profile!r} (from PARLEY_ENV or --profile): "
            f"use one of {', '.join(PROFILES)}."
        )
    config_path = config_file or (Path(p) if (p := os.environ.get("PARLEY_CONFIG")) else None)
    layers = [profile_yaml(chosen_profile)]
    if config_path is not None:
        layers.append(_read_yaml(config_path, what="Config file"))
    _YamlLayers.layers = layers
    clean_overrides = {key: value for key, value in overrides.items() if value is not None}
    if (api_key := os.environ.get("PARLEY_API_KEY")) and "PARLEY_SERVER__API_KEY" not in os.environ:
        # The short name is what people expect; it sits with the other environment settings.
        layers.append({"server": {"api_key": api_key}})
    try:
        return Settings(**clean_overrides)
    except ValidationError as error:
        where = f"{config_path}" if config_path else "your config file"
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(
            f"Invalid configuration: {problems}. Fix it in {where} or in the matching "
            "PARLEY_<SECTION>__<KEY> environment variable."
        ) from None
    finally:
        _YamlLayers.layers = []
