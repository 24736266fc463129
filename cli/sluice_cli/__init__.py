"""The `sluice` command line: Sluice's HTTP APIs from a terminal."""

__version__ = "0.1.0"
