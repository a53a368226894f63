"""Configuration: the schema of every key and the loader that checks it."""

from sequenzia.config.load import Config, ConfigError, load_config, parse_config

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]
