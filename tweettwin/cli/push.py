"""`tweettwin push`."""

from tweettwin.cli import cli  # noqa: F401
