"""Lineage: walk a model folder back to the exact input files it was trained on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.model_folder import read_model_folder
from tweettwin.tracking.hashing import as_sha, model_hash, sha256_file
from tweettwin.tracking.registry import RunRecord, WorkspaceLike, find_run, input_paths


def lineage(
    model_dir: str | os.PathLike, *, workspace: WorkspaceLike = None, verify: bool = True
) -> dict:
    """Walk a model folder back to the exact input files.

    model (weights hash, train run) -> base model (id, weights hash) -> dataset (content hash,
    prepare run) -> input files (path, sha256, bytes; with ``verify``, whether each file is still
    there with the same bytes). Works from the folder's own ``training.json`` and
    ``dataset_manifest.json``; the registry adds the runs that made each step.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(
            f"{model_dir}: not a folder; give a model folder made by `tweettwin train`"
        )
    folder = read_model_folder(model_dir, need_manifest=False)
    training, manifest = folder.training, folder.manifest
    digest = model_hash(model_dir)
    train_run = find_run(workspace, "model_hash", digest)
    dataset_hash = manifest.get("content_hash") or training.dataset_hash
    prepare_run = find_run(workspace, "dataset_hash", dataset_hash, kind="prepare")
    known = _known_locations(workspace, prepare_run)
    inputs = manifest.get("inputs") or (prepare_run.inputs if prepare_run else [])
    return {
        "model": {
            "path": str(model_dir.resolve()),
            "sha256": digest,
            "run_id": train_run.id if train_run else None,
        },
        "base_model": {"id": training.base_model_id, "sha256": training.base_model_hash},
        "dataset": {
            "content_hash": dataset_hash,
            "run_id": prepare_run.id if prepare_run else None,
            "path": prepare_run.lineage.get("dataset_dir") if prepare_run else None,
        },
        "inputs": [_locate(i, known, verify) for i in inputs],
    }


def _known_locations(ws: WorkspaceLike, prepare_run: RunRecord | None) -> dict[str, str]:
    """sha256 -> absolute path, from the registry (the prepare run's inputs first).

    The dataset manifest stores paths relative to the SOURCE's folder (portable, no home
    directory); the registry knows where the files were on this machine."""
    found = {as_sha(sha): path for sha, path in input_paths(ws)}
    for item in prepare_run.inputs if prepare_run else []:
        found[as_sha(item["sha256"])] = item["path"]
    return found


def _locate(item: Mapping, known: Mapping[str, str], verify: bool) -> dict:
    sha = as_sha(item.get("sha256"))
    recorded = str(item.get("path", ""))
    candidates = [known[sha]] if sha in known else []
    candidates.append(recorded)
    location = next((c for c in candidates if c and Path(c).is_file()), None)
    if not verify:
        status = "unchecked"
    elif location is None:
        status = "missing"
    else:
        status = "ok" if sha256_file(location) == sha else "changed"
    return {
        "path": recorded,
        "sha256": sha,
        "bytes": item.get("bytes"),
        "location": str(Path(location).resolve()) if location else None,
        "status": status,
    }
