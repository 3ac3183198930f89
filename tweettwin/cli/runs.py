"""`tweettwin runs`."""

from tweettwin.cli import cli  # noqa: F401
