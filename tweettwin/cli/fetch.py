"""`tweettwin fetch`."""

from tweettwin.cli import cli  # noqa: F401
