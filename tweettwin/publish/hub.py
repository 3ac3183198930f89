"""Publish a model folder (weights, tokenizer, card, preview) to the Hugging Face Hub.

Through huggingface_hub's own client: ``HfApi.create_repo(exist_ok=True)`` then
``upload_folder``. The token comes from the caller, ``HF_TOKEN`` or the user's saved login
(``hf auth login`` / ``huggingface-cli login``); it is passed to the client only, and scrubbed
from any error text, never printed or written.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tweettwin.errors import ConfigError, InputError, NetworkError, OutputExistsError
from tweettwin.model_folder import CARD, TRAINING_JSON
from tweettwin.redaction import redact

# Never uploaded: resumable checkpoints, temp files of atomic writes, hidden caches, run data.
IGNORE_PATTERNS = [
    "checkpoint*", "checkpoint*/*", "checkpoints/*", "*/checkpoint*/*", "*.tmp", "*.tmp/*",
    ".*", ".*/*", "*/.*", "__pycache__/*", "*.pyc", "runs/*", "tensorboard/*", "wandb/*",
    "optimizer.pt", "scheduler.pt", "rng_state*", "trainer_state.json", "training_args.bin",
    "*.lock",
]  # fmt: skip
# What IS uploaded: an allow-list of model files at the top of the folder. Anything else (the
# training posts as train.jsonl, a user's notes, a symlink to /etc/shadow) stays on this
# machine: a model folder is published, and posts must never be.
MODEL_FILES = frozenset((
    "README.md", "config.json", "generation_config.json", "training.json",
    "dataset_manifest.json", "samples.json", "preview.png", "novelty.json", "novelty.bin",
    "post_vocab.json", "post_starts.json",
    "model.safetensors.index.json", "adapter_config.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
    "added_tokens.json", "tokenizer.model", "chat_template.jinja", "chat_template.json",
))  # fmt: skip
_WEIGHTS = re.compile(r"[\w.-]+\.safetensors")
_REPO_PART = re.compile(r"[A-Za-z0-9_.-]{1,96}")  # fullmatch: "$" would let "a\n" through


@dataclass
class PushResult:
    repo_id: str
    files: list[tuple[str, int]]  # (path in repo, bytes), sorted
    private: bool
    dry_run: bool
    url: str | None = None  # the repo's page
    commit_url: str | None = None
    card_updated: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["files"] = [{"path": p, "bytes": b} for p, b in self.files]
        d["total_bytes"] = self.total_bytes
        return d


def is_model_file(path: Path) -> bool:
    """A regular file (not a symlink) whose name is on the allow-list."""
    name = path.name
    listed = name in MODEL_FILES or bool(_WEIGHTS.fullmatch(name))
    return listed and not path.is_symlink() and path.is_file()


def upload_plan(model_dir: str | os.PathLike) -> list[tuple[str, int]]:
    """Exactly the files ``upload_folder`` will send (``allow_patterns`` = these names)."""
    root = Path(model_dir)
    return sorted((p.name, p.stat().st_size) for p in root.iterdir() if is_model_file(p))


def left_out(model_dir: str | os.PathLike) -> list[str]:
    """What the folder holds that is not uploaded, with why (for the dry run's notes)."""
    root = Path(model_dir)
    notes = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or is_model_file(p):
            continue
        if p.is_symlink():
            notes.append(f"{p.name} (a symbolic link)")
        elif p.name.endswith(".jsonl") or p.name in ("posts.json", "posts.csv"):
            notes.append(f"{p.name} (posts are never published)")
        elif not p.name.startswith("checkpoint"):
            notes.append(f"{p.name} (not a model file)")
    return notes


def check_repo_id(repo_id: str) -> None:
    """NAME or OWNER/NAME as the Hub allows them: no ``..``, ``.`` or ``a/..`` (path tricks)."""
    parts = (repo_id or "").split("/")
    ok = 1 <= len(parts) <= 2 and all(
        _REPO_PART.fullmatch(p)
        and ".." not in p
        and "--" not in p
        and p[0] not in "-."
        and p[-1] not in "-."
        for p in parts
    )
    if not ok:
        raise ConfigError(
            f"--repo-id {repo_id!r}: use NAME or OWNER/NAME (letters, digits, - _ . ; "
            "not starting or ending with - or ., no '..' or '--', at most 96 characters each)"
        )


def _check_folder(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise InputError(
            f"{model_dir}: no such folder; give the model folder made by `tweettwin train`"
        )
    if not (model_dir / "config.json").exists() or not any(
        is_model_file(p) for p in model_dir.glob("*.safetensors")
    ):
        raise InputError(
            f"{model_dir}: not a model folder (needs config.json and *.safetensors); "
            "give the -o folder of `tweettwin train` or `tweettwin make`"
        )


def _token(token: str | None) -> str | None:
    if token:
        return token
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"]
    from huggingface_hub import get_token

    return get_token()


def push(
    model_dir: str | os.PathLike,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    *,
    update_card: bool = True,
    api: Any = None,
) -> PushResult:
    """Create (or reuse) ``repo_id`` on the Hub and upload the model folder to it.

    With ``dry_run`` nothing is sent and nothing is written: the result lists the files that
    would be uploaded. ``update_card`` re-renders README.md with the Hub id first, so the
    card's usage snippet and thumbnail point at the published repo.
    """
    from tweettwin.publish.card import is_own_card

    model_dir = Path(model_dir)
    _check_folder(model_dir)
    check_repo_id(repo_id)
    own_card = is_own_card(model_dir / "README.md")
    can_render = update_card and (model_dir / TRAINING_JSON).exists() and not own_card
    result = _planned(model_dir, repo_id, private, dry_run, own_card)
    if dry_run:
        if can_render:
            result.notes.append("README.md would be re-rendered with the Hub id before upload")
        return result
    secret = _required_token(token)
    if can_render:
        from tweettwin.atomic import write_text
        from tweettwin.publish.card import render_card

        write_text(model_dir / CARD, render_card(model_dir, repo_id=repo_id))
        result.card_updated = True
        result.files = upload_plan(model_dir)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=secret)
    _upload(api, model_dir, result, secret)
    return result


def _planned(
    model_dir: Path, repo_id: str, private: bool, dry_run: bool, own_card: bool
) -> PushResult:
    """What would be uploaded, with notes on what is left out and a card that is not ours."""
    result = PushResult(repo_id, upload_plan(model_dir), private, dry_run)
    skipped = left_out(model_dir)
    if skipped:
        result.notes.append("Not uploaded: " + ", ".join(skipped))
    if own_card:
        result.notes.append("README.md was not written by tweettwin: uploaded as it is")
    return result


def _required_token(token: str | None) -> str:
    secret = _token(token)
    if not secret:
        raise ConfigError(
            "no Hugging Face token: run `hf auth login` (or `huggingface-cli login`), "
            "or set HF_TOKEN to a token with write access"
        )
    return secret


def _upload(api: Any, model_dir: Path, result: PushResult, secret: str) -> None:
    """Create (or reuse) the repo and upload the planned files; the Hub's answer goes on
    ``result``, and a failure becomes one clear line without the token."""
    repo_id, private = result.repo_id, result.private
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=getattr(repo_url, "repo_id", None) or repo_id,
            folder_path=str(model_dir),
            repo_type="model",
            commit_message="Upload tweettwin model",
            allow_patterns=[name for name, _ in result.files],
            ignore_patterns=IGNORE_PATTERNS,
        )
    except Exception as ex:
        raise _hub_error(ex, repo_id, secret) from None
    result.repo_id = getattr(repo_url, "repo_id", None) or repo_id
    result.url = str(repo_url)
    result.commit_url = getattr(commit, "commit_url", None)


def _status(ex: BaseException) -> int | None:
    response = getattr(ex, "response", None)
    return getattr(response, "status_code", None)


def _hub_error(ex: Exception, repo_id: str, token: str) -> Exception:
    """One clear line for what went wrong; the token scrubbed from anything quoted."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    detail = redact(" ".join(str(ex).split()), [token])[:300]
    status = _status(ex)
    if isinstance(ex, RepositoryNotFoundError) or status == 404:
        return OutputExistsError(
            f"cannot write to {repo_id} on the Hub (not found or not yours): check the owner part "
            "of --repo-id, or that your token may write to that organisation"
        )
    if status == 401:
        return ConfigError(
            "the Hub rejected your token (401): run `hf auth login` again or set a valid HF_TOKEN"
        )
    if status in (403, 409):
        return OutputExistsError(
            f"{repo_id} exists on the Hub and belongs to someone else, or your token cannot "
            f"write to it ({status}): choose another --repo-id (e.g. YOURNAME/NAME) or use a "
            "token with write access"
        )
    if isinstance(ex, HfHubHTTPError):
        return NetworkError(f"the Hub refused the upload to {repo_id} ({status}): {detail}")
    if isinstance(ex, (ConnectionError, TimeoutError, OSError)) or "httpx" in type(ex).__module__:
        hint = (
            "HF_HUB_OFFLINE is set: unset it to publish"
            if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0")
            else "check your internet connection and try again"
        )
        return NetworkError(f"cannot reach the Hugging Face Hub ({type(ex).__name__}): {hint}")
    return NetworkError(f"upload to {repo_id} failed: {type(ex).__name__}: {detail}")
