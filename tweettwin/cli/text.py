"""Text from inputs or servers (handles, paths, generated posts) shown through rich."""

from __future__ import annotations


def shown(value: object) -> str:
    """``value`` safe to put in a rich markup string: ``[/x]`` in a handle would otherwise
    crash the table (MarkupError), and an escape sequence would reach the terminal."""
    from rich.markup import escape

    from tweettwin.ingest.clean import strip_controls

    return escape(strip_controls(str(value)))
