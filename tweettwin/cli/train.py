"""`tweettwin train`."""

from tweettwin.cli import cli  # noqa: F401
