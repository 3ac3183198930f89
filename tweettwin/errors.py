"""One exception tree for every user-facing failure.

Front ends render these once: the CLI prints ``Error: <message>`` and exits with ``exit_code``;
the web app maps ``http_status`` to a JSON error. Messages are one line and say what to do.

    TweettwinError
    ├── InputError          bad or unreadable input file (names file, line, field)
    ├── DatasetError        missing / incompatible / too-small dataset
    ├── ModelError          base model cannot be loaded or is unsuitable
    ├── FetchError          a remote account cannot be fetched
    │   └── NetworkError    the network or the server failed
    ├── OutputExistsError   refusing to overwrite a finished output
    ├── OutputError         the output cannot be written (not a folder, read-only, full)
    ├── ConfigError         invalid options
    ├── RegistryError       the run registry (runs.db) is damaged, locked or unreadable
    ├── MissingExtraError   an optional dependency is not installed
    └── TrainingInterrupted Ctrl-C during training: a checkpoint was saved (says how to resume)
"""

from __future__ import annotations

import re

# Messages quote inputs and servers: an escape sequence in a file name or a server's error
# text must not reach the terminal (ESC [2J clears it, OSC sequences retitle it).
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


class TweettwinError(Exception):
    exit_code = 2
    http_status = 400

    def __init__(self, message: str) -> None:
        # Keep messages on one line: they are shown to users as is.
        super().__init__(" ".join(_CONTROL.sub("", str(message)).split()))


class InputError(TweettwinError):
    pass


class DatasetError(TweettwinError):
    pass


class ModelError(TweettwinError):
    pass


class FetchError(TweettwinError):
    http_status = 502


class NetworkError(FetchError):
    pass


class OutputExistsError(TweettwinError):
    http_status = 409


class OutputError(TweettwinError):
    pass


class ConfigError(TweettwinError):
    pass


class RegistryError(TweettwinError):
    pass


class TweettwinWarning(UserWarning):
    """Something the user should know that does not stop the job (the CLI shows one line)."""


class MissingExtraError(TweettwinError):
    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'tweettwin[{extra}]'")


class TrainingInterrupted(TweettwinError):
    """Training stopped by Ctrl-C after saving a checkpoint. Not a KeyboardInterrupt: front ends
    catch it like any library error (no torch needed) and show its message, which says how to
    resume; exit code 130 as for any interrupted command."""

    exit_code = 130

    def __init__(self, step: int, total_steps: int, checkpoint_dir, dataset_dir, output_dir):
        self.step, self.total_steps = step, total_steps
        self.checkpoint_dir, self.output_dir = checkpoint_dir, output_dir
        super().__init__(
            f"Training interrupted at step {step}/{total_steps}; checkpoint saved in "
            f"{checkpoint_dir}. Resume with: tweettwin train {dataset_dir} -o {output_dir} "
            "--resume (and the same training options; in Python, TrainConfig(resume=True))."
        )


def require(module: str, feature: str, extra: str):
    """Import an optional dependency or raise a MissingExtraError with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as ex:
        raise MissingExtraError(feature, extra) from ex
