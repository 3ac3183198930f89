"""The model folder's schema, owned in one place (torch-free).

A model folder written by ``tweettwin train`` / ``make`` holds the Hugging Face files
(``config.json``, ``*.safetensors``, tokenizer files, ``generation_config.json``) plus tweettwin's
own: ``training.json`` (a :class:`TrainingRecord`), ``dataset_manifest.json`` (a copy of the
dataset's manifest, see ``dataset.py``), ``novelty.json`` (the copy guard's index), and optionally
``samples.json``, ``preview.png``, ``README.md`` (the card), ``eval.json`` and ``report.html``
(written by ``tweettwin eval``). Every reader goes through
:func:`read_model_folder` / :class:`TrainingRecord`, so a key is named once; ``weights_hash`` is the
one definition of a folder's identity (the train run's lineage and a base model's hash agree).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tweettwin.errors import InputError, ModelError
from tweettwin.jsonio import loads

TRAINING_JSON = "training.json"
DATASET_MANIFEST = "dataset_manifest.json"
SAMPLES_JSON = "samples.json"
NOVELTY_JSON = "novelty.json"
PREVIEW_PNG = "preview.png"
CARD = "README.md"
CONFIG_JSON = "config.json"
GENERATION_CONFIG = "generation_config.json"
EVAL_JSON = "eval.json"  # written by `tweettwin eval`, with REPORT_HTML beside it
REPORT_HTML = "report.html"

TRAINING_FORMAT = "tweettwin-training"
TRAINING_FORMAT_VERSION = 1
MAX_JSON_BYTES = 64 << 20  # metadata files are small: a bigger one is not ours


def read_json(path: str | os.PathLike, *, missing_ok: bool = False, what: str = "file") -> Any:
    """Parse a JSON metadata file; one clear error line for a missing, huge or invalid file.

    ``missing_ok`` returns None for a file that does not exist.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(
                f"{path}: {size:,} bytes is too big for a {what}; is it the right file?"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return None
        raise InputError(f"{path}: missing {what}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; is it a {what}?") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a {what}") from None
    return loads(text, str(path), f"is it a {what} written by tweettwin?")


def read_json_object(path: str | os.PathLike, *, missing_ok: bool = False, what: str = "file"):
    """:func:`read_json` for files whose top level must be an object (dict)."""
    if missing_ok and not Path(path).exists():
        return None
    value = read_json(path, what=what)  # a file holding `null` is damaged, not missing
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object at the top level, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_hash(folder: str | os.PathLike, *, cache: bool = False) -> str:
    """``sha256:<hex>``: a folder's identity from its ``*.safetensors`` weights only (re-rendering
    the card or preview keeps it). One file: that file's sha256; several (sharded): sha256 over
    ``name\\0sha256:<hex>\\n`` lines in name order.

    ``cache`` keeps each file's hash beside it, keyed by size and mtime (only for folders tweettwin
    owns, such as the converted embedded base model).
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(
            f"{folder}: no *.safetensors weights (only safetensors are loaded, for safety); "
            "is it a model folder?"
        )
    hashes = [_cached_sha256(f) if cache else _sha256_file(f) for f in files]
    if len(files) == 1:
        return "sha256:" + hashes[0]
    lines = "".join(f"{f.name}\0sha256:{h}\n" for f, h in zip(files, hashes, strict=True))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def _cached_sha256(path: Path) -> str:
    stamp = path.with_name(f".{path.name}.sha256")
    key = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
    try:
        saved_key, saved = stamp.read_text().split()[:2]
        if saved_key == key:
            return saved
    except (OSError, ValueError):
        pass
    digest = _sha256_file(path)
    try:
        stamp.write_text(f"{key} {digest}\n")
    except OSError:
        pass  # a read-only folder just hashes again next time
    return digest


@dataclass
class TrainingRecord:
    """``training.json``: how a model was made (what ``ml/record.py`` writes, what readers get)."""

    hyperparameters: dict = field(default_factory=dict)  # the TrainConfig, as a dict
    precision: str = "fp32"
    separator: str | None = None
    author_tags: bool = False
    keep_newlines: bool = False
    authors: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    evals: list = field(default_factory=list)
    stop_reason: str | None = None
    wall_time_s: float | None = None
    train_time_s: float | None = None
    tokens_per_s: float | None = None
    hardware: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    base_model: dict = field(default_factory=dict)  # BaseModelInfo.to_dict()
    dataset: dict = field(default_factory=dict)  # path, content_hash, post and token counts
    format: str = TRAINING_FORMAT
    format_version: int = TRAINING_FORMAT_VERSION
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read

    # -- what readers ask for, named once
    @property
    def method(self) -> str:
        return self.hyperparameters.get("method") or "full"

    @property
    def base_model_id(self) -> str | None:
        return self.base_model.get("model_id") or self.base_model.get("name")

    @property
    def base_model_hash(self) -> str | None:
        return self.base_model.get("weights_sha256")

    @property
    def dataset_hash(self) -> str | None:
        return self.dataset.get("content_hash")

    def to_dict(self) -> dict:
        out = asdict(self)
        extra = out.pop("extra")
        return {"format": out.pop("format"), "format_version": out.pop("format_version")} | (
            out | extra
        )

    @classmethod
    def from_dict(cls, data: Any, source: str = TRAINING_JSON) -> TrainingRecord:
        if not isinstance(data, dict):
            raise ModelError(f"{source}: expected a JSON object, not {_kind(data)}")
        if data.get("format", TRAINING_FORMAT) != TRAINING_FORMAT:
            raise ModelError(f"{source}: not a tweettwin training record (format is not "
                             f"{TRAINING_FORMAT!r})")  # fmt: skip
        version = data.get("format_version", TRAINING_FORMAT_VERSION)
        if not isinstance(version, int) or version > TRAINING_FORMAT_VERSION:
            raise ModelError(
                f"{source}: format_version {version!r} was written by a newer tweettwin; "
                "upgrade tweettwin (pip install -U tweettwin) to read it"
            )
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        for f in fields(cls):  # a wrong type in a hand-edited file is an error, not a crash later
            if f.name in values and f.type in ("dict", "list"):
                if not isinstance(values[f.name], dict if f.type == "dict" else list):
                    raise ModelError(f"{source}: field {f.name!r} must be a JSON {f.type}")
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def read(cls, model_dir: str | os.PathLike) -> TrainingRecord:
        path = Path(model_dir) / TRAINING_JSON
        return cls.from_dict(read_json(path, what="training record"), str(path))

    def write(self, model_dir: str | os.PathLike) -> Path:
        from tweettwin.atomic import write_text

        path = Path(model_dir) / TRAINING_JSON
        write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return path


@dataclass
class ModelFolder:
    """A model folder's metadata, read once: the training record, dataset manifest, samples."""

    path: Path
    training: TrainingRecord
    manifest: dict
    samples: dict | list | None = None
    evaluation: dict | None = None  # eval.json

    @property
    def has_card(self) -> bool:
        return (self.path / CARD).is_file()


def read_model_folder(model_dir: str | os.PathLike, *, need_manifest: bool = True) -> ModelFolder:
    """Read a model folder written by ``tweettwin train``; one clear error for what is missing."""
    path = Path(model_dir)
    if not path.is_dir():
        raise InputError(f"{path}: no such folder; give a model folder made by `tweettwin train`")
    if not (path / TRAINING_JSON).is_file():
        raise InputError(
            f"{path / TRAINING_JSON}: missing; is {path} a model folder made by `tweettwin train`?"
        )
    training = TrainingRecord.read(path)
    manifest = read_json_object(
        path / DATASET_MANIFEST, missing_ok=not need_manifest, what="dataset manifest"
    )
    samples = read_json(path / SAMPLES_JSON, missing_ok=True, what="samples file")
    evaluation = read_json_object(path / EVAL_JSON, missing_ok=True, what="eval result")
    return ModelFolder(path, training, manifest or {}, samples, evaluation)
