"""`tweettwin generate`."""

from tweettwin.cli import cli  # noqa: F401
