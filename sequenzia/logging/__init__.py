"""Log output: one line per event, as readable text or as JSON for machines."""

from sequenzia.logging.observers import make_observer

__all__ = ["make_observer"]
