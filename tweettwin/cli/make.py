"""`tweettwin make`."""

from tweettwin.cli import cli  # noqa: F401
