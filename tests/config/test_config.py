"""Configuration: defaults, the documented example, refusals that name the key, overrides."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from sequenzia.config import ConfigError, load_config, parse_config
from sequenzia.config.schema import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "sequenzia.example.toml"


def refuse(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(text), env=env or {}, cwd=Path("/srv"))
    return str(info.value)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    assert config.source == "defaults"
    assert config.server.listen == "tcp:8080:interface=127.0.0.1"
    assert config.server.role == "all"
    assert config.data_dir == tmp_path / "data"
    assert config.database.url == f"sqlite:///{tmp_path}/data/sequenzia.sqlite3"
    assert config.bus.backend == "local"


def test_example_documents_every_key_with_its_default(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    document = tomllib.loads(text)
    assert list(document) == list(SECTIONS), "the example lists the sections in schema order"
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f.name in document[name], f"{name}.{f.name} is missing from the example"
            default = (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            )
            assert document[name][f.name] == default, (
                f"{name}.{f.name}: example differs from default"
            )
            # a comment line right above the key documents it
            pattern = rf"#[^\n]*\n{re.escape(f.name)} = "
            assert re.search(pattern, text), f"{name}.{f.name} has no comment above it"
    config = load_config(str(EXAMPLE), env={}, cwd=tmp_path)
    assert config == dataclasses.replace(load_config(env={}, cwd=tmp_path), source=str(EXAMPLE))


def test_file_from_env_and_cwd(tmp_path: Path) -> None:
    (tmp_path / "sequenzia.toml").write_text('[server]\nlisten = "tcp:9001"\n')
    assert load_config(env={}, cwd=tmp_path).server.listen == "tcp:9001"
    other = tmp_path / "other.toml"
    other.write_text('[server]\nlisten = "tcp:9002"\n')
    assert (
        load_config(env={"SEQUENZIA_CONFIG": str(other)}, cwd=tmp_path).server.listen == "tcp:9002"
    )
    assert load_config(str(other), env={}, cwd=tmp_path).source == str(other)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nlisten = 8080\n", "'server.listen' must be a string, not 8080"),
        ('[server]\nlisten = "nonsense:1"\n', "'server.listen' must be a Twisted endpoint string"),
        (
            '[server]\nlisten = "tcp:notaport"\n',
            "'server.listen' must be a Twisted endpoint string",
        ),
        (
            '[server]\nrole = "everything"\n',
            "'server.role' must be one of 'all', 'web', 'io', 'backup'",
        ),
        ('[server]\nlisen = "tcp:1"\n', "unknown key 'server.lisen'"),
        ('[sever]\nlisten = "tcp:1"\n', "unknown section [sever]"),
        ("server = 1\n", "'server' must be a table"),
        (
            '[database]\nurl = "postgres://x/y"\n',
            "'database.url' must be a usable database URL (unsupported database 'postgres'",
        ),
        (
            '[database]\nurl = "mysql://root@localhost:99999/db"\n',
            "'database.url' must be a usable database URL (the port",
        ),
        ('[database]\nurl = "mysql://root@localhost"\n', "needs a database name"),
        ('[database]\nurl = "sqlite://"\n', "needs a file path"),
        (
            "[database]\npool_size = 0\n",
            "'database.pool_size' must be a whole number from 1 to 64; got 0",
        ),
        ("[database]\npool_size = true\n", "'database.pool_size' must be a whole number, not True"),
        ('[database]\nauto_upgrade = "yes"\n', "'database.auto_upgrade' must be true or false"),
        ('[bus]\nurl = "http://rabbit"\n', "'bus.url' must be a RabbitMQ URL"),
        ('[logging]\nformat = "xml"\n', "'logging.format' must be one of 'text', 'json'"),
        ('[bus]\nbackend = "rabbitmq"\n', "'bus.backend' must be one of 'local'"),
        ('[discord]\napi_base = "discord.com"\n', "'discord.api_base' must be an http(s) URL"),
        (
            '[devcord]\nlisten = "where:ever"\n',
            "'devcord.listen' must be a Twisted endpoint string",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(text: str, expected: str) -> None:
    message = refuse(text)
    assert expected in message
    assert "\n" not in message


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), env={}, cwd=tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nlisten=")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_config(str(bad), env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path), env={}, cwd=tmp_path)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[server]\nrole = 3\n")
    with pytest.raises(ConfigError, match=r"^.*wrong\.toml: 'server\.role' must be a string"):
        load_config(str(wrong), env={}, cwd=tmp_path)


def test_environment_and_overrides(tmp_path: Path) -> None:
    env = {
        "SEQUENZIA_DATABASE_URL": "mysql://u:secret@db:3307/lib",
        "SEQUENZIA_DATA": "/var/lib/seq",
    }
    (tmp_path / "sequenzia.toml").write_text('[database]\nurl = "sqlite:///from-file"\n')
    config = load_config(env=env, cwd=tmp_path)
    assert config.database.url == "mysql://u:secret@db:3307/lib"
    assert config.data_dir == Path("/var/lib/seq")
    config = load_config(
        env=env, cwd=tmp_path, overrides={"server.data_dir": "here", "server.listen": None}
    )
    assert config.data_dir == tmp_path / "here"
    assert config.server.listen == "tcp:8080:interface=127.0.0.1"
    assert "$SEQUENZIA_DATABASE_URL must be a usable database URL" in refuse(
        "", env={"SEQUENZIA_DATABASE_URL": "nope"}
    )
