"""What a fetch reports while it runs (``FetchProgress``) and when it ends (``FetchResult``).

Kept apart from the fetch loop so the paging code and the entry point share them without
importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class FetchProgress:
    """What the fetch is doing, for a progress display (the CLI draws a bar)."""

    event: str  # "account", "estimate", "page", "wait", "done"
    stored: int = 0  # posts in the folder
    fetched: int = 0  # posts stored by this run
    expected: int | None = None  # posts the account has, when the platform says
    message: str = ""
    seconds: float | None = None  # for "wait"


@dataclass
class FetchResult:
    platform: str
    account: str  # handle
    output: Path
    fetched: int  # posts stored by this run
    total: int  # posts in the folder
    complete: bool  # the whole available timeline is in the folder
    estimated_reads: int | None = None  # X only: posts billed by this run (estimate)
    estimated_cost_usd: float | None = None
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None  # the registry's "fetch" run (set by tweettwin.pipeline)
    skipped: int = 0  # items the server sent without a usable id

    def to_dict(self) -> dict:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


ProgressCallback = Callable[[FetchProgress], None]
