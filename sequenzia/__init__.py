"""Sequenzia: a self-hosted image and file library that keeps its bytes in Discord."""

__version__ = "0.1.0"
