"""`tweettwin card`."""

from tweettwin.cli import cli  # noqa: F401
