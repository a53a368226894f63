"""Read, check and resolve the configuration.

Sources, strongest first: command-line overrides, environment variables (the keys whose
schema names one), the TOML file (`--config`, `$SEQUENZIA_CONFIG`, or `./sequenzia.toml`),
then the defaults in `sequenzia.config.schema`. Anything unknown or malformed is refused
with a `ConfigError` whose message names the key and what is expected.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sequenzia.config.schema import (
    SECTIONS,
    AuthSection,
    BusSection,
    CdsSection,
    DatabaseSection,
    DevcordSection,
    DiscordSection,
    LoggingSection,
    ServerSection,
    SpansSection,
)


class ConfigError(Exception):
    """Configuration that cannot be used. The message is one line naming the key."""


@dataclass(frozen=True)
class Config:
    server: ServerSection
    database: DatabaseSection
    bus: BusSection
    discord: DiscordSection
    spans: SpansSection
    cds: CdsSection
    auth: AuthSection
    devcord: DevcordSection
    logging: LoggingSection
    source: str  # the file read, or "defaults"

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)

    @property
    def cache_dir(self) -> Path:
        return Path(self.cds.cache_dir) if self.cds.cache_dir else self.data_dir / "cache"

    @property
    def database_url(self) -> str:
        return self.database.url


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"a list of {_type_name(inner)}"
    return {str: "a string", int: "a whole number", bool: "true or false", float: "a number"}[tp]


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return isinstance(value, list) and all(_matches(v, inner) for v in value)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, tp)


def _from_env(raw: str, tp: Any) -> Any:
    if tp is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _build_section(name: str, cls: type, values: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for k in values:
        if k not in known:
            raise ConfigError(
                f"unknown key '{name}.{k}'; known keys in [{name}]: {', '.join(known)}"
            )
    kwargs: dict[str, Any] = {}
    for fname, f in known.items():
        tp = hints[fname]
        env_name = f.metadata.get("env")
        if env_name and env.get(env_name):
            value, origin = _from_env(env[env_name], tp), f"${env_name}"
        elif fname in values:
            value, origin = values[fname], f"'{name}.{fname}'"
        else:
            continue
        if not _matches(value, tp):
            raise ConfigError(f"{origin} must be {_type_name(tp)}, not {value!r}")
        check = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            raise ConfigError(f"{origin} must be {problem}; got {value!r}")
        kwargs[fname] = value
    return cls(**kwargs)


def find_config_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The file to read: --config, then $SEQUENZIA_CONFIG, then ./sequenzia.toml if present."""
    if explicit:
        return Path(explicit)
    if env.get("SEQUENZIA_CONFIG"):
        return Path(env["SEQUENZIA_CONFIG"])
    candidate = cwd / "sequenzia.toml"
    return candidate if candidate.is_file() else None


def parse_config(
    document: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
    cwd: Path,
    source: str = "defaults",
) -> Config:
    """Check a parsed TOML document (plus env and overrides) and resolve derived values."""
    for section in document:
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}]; known sections: {', '.join(SECTIONS)}")
        if not isinstance(document[section], dict):
            raise ConfigError(f"'{section}' must be a table ([{section}]), not a single value")
    merged: dict[str, dict[str, Any]] = {s: dict(document.get(s, {})) for s in SECTIONS}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, k = dotted.partition(".")
        merged[section][k] = value
    built = {name: _build_section(name, cls, merged[name], env) for name, cls in SECTIONS.items()}

    server: ServerSection = built["server"]
    data_dir = (
        Path(overrides["server.data_dir"])
        if overrides and overrides.get("server.data_dir")
        else Path(env["SEQUENZIA_DATA"])
        if env.get("SEQUENZIA_DATA")
        else Path(server.data_dir)
        if server.data_dir
        else Path("data")
    )
    if not data_dir.is_absolute():
        data_dir = cwd / data_dir
    built["server"] = dataclasses.replace(server, data_dir=str(data_dir))

    database: DatabaseSection = built["database"]
    if not database.url:
        db_path = data_dir / "sequenzia.sqlite3"
        built["database"] = dataclasses.replace(database, url=f"sqlite:///{db_path}")
    return Config(source=source, **built)


def load_config(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Load the configuration from its file (if any), the environment and overrides.

    `overrides` maps dotted keys (`server.listen`) to values from the command line;
    None values are ignored.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    file = find_config_file(path, env, cwd)
    document: dict[str, Any] = {}
    source = "defaults"
    if file is not None:
        try:
            with open(file, "rb") as f:
                document = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {file} is a directory") from None
        except PermissionError:
            raise ConfigError(f"config file {file} cannot be read (permission denied)") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {file} is not valid TOML: {e}") from None
        source = str(file)
    try:
        return parse_config(document, env=env, overrides=overrides, cwd=cwd, source=source)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}" if file is not None else str(e)) from None
