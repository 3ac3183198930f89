"""`tweettwin prepare`."""

from tweettwin.cli import cli  # noqa: F401
