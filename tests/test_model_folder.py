"""The model folder's schema: one reader, one weights hash, clear errors for damaged files."""

from __future__ import annotations

import hashlib
import json

import pytest

from tweettwin.errors import InputError, ModelError
from tweettwin.model_folder import (
    TrainingRecord,
    read_json_object,
    read_model_folder,
    weights_hash,
)

# training.json exactly as tweettwin 0.1 (format_version 1) writes it: old folders must still load
V1_RECORD = {
    "format": "tweettwin-training",
    "format_version": 1,
    "hyperparameters": {"method": "full", "learning_rate": 0.0003},
    "precision": "bf16",
    "separator": "<|endoftext|>",
    "author_tags": False,
    "keep_newlines": False,
    "authors": ["ada"],
    "metrics": {"base_val_loss": 4.0, "best_val_loss": 3.0},
    "evals": [{"step": 0, "val_loss": 4.0}],
    "stop_reason": "completed",
    "wall_time_s": 10.0,
    "train_time_s": 8.0,
    "tokens_per_s": 300.0,
    "hardware": {"device": "cpu"},
    "versions": {"torch": "2.13.0"},
    "base_model": {"model_id": "org/base", "weights_sha256": "sha256:" + "b" * 64},
    "dataset": {"content_hash": "sha256:" + "d" * 64},
}


def _folder(tmp_path, record=V1_RECORD, manifest=None):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "training.json").write_text(json.dumps(record))
    (folder / "dataset_manifest.json").write_text(json.dumps(manifest or {"content_hash": "x"}))
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_a_version_1_folder_reads_with_named_fields(tmp_path):
    folder = read_model_folder(_folder(tmp_path))
    record = folder.training
    assert record.base_model_id == "org/base" and record.base_model_hash.endswith("b" * 64)
    assert record.dataset_hash.endswith("d" * 64) and record.method == "full"
    assert record.to_dict() == V1_RECORD  # round trip: nothing renamed, nothing lost
    assert folder.manifest == {"content_hash": "x"} and folder.samples is None


def test_unknown_keys_are_kept_and_newer_formats_refused(tmp_path):
    record = TrainingRecord.from_dict(V1_RECORD | {"added_later": [1]})
    assert record.to_dict()["added_later"] == [1]
    with pytest.raises(ModelError, match="newer tweettwin; upgrade"):
        TrainingRecord.from_dict(V1_RECORD | {"format_version": 2})
    with pytest.raises(ModelError, match="not a tweettwin training record"):
        TrainingRecord.from_dict(V1_RECORD | {"format": "something-else"})
    with pytest.raises(ModelError, match="'metrics' must be a JSON dict"):
        TrainingRecord.from_dict(V1_RECORD | {"metrics": [1, 2]})


def test_write_then_read_is_the_same_record(tmp_path):
    record = TrainingRecord.from_dict(V1_RECORD)
    record.write(tmp_path)
    assert TrainingRecord.read(tmp_path) == record


def test_weights_hash_single_file_is_the_file_hash(tmp_path):
    folder = _folder(tmp_path)
    assert weights_hash(folder) == "sha256:" + hashlib.sha256(b"weights").hexdigest()
    (folder / "README.md").write_text("a card")  # re-rendering the card keeps the identity
    assert weights_hash(folder) == "sha256:" + hashlib.sha256(b"weights").hexdigest()


def test_weights_hash_of_shards_depends_on_every_shard(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "model-00001-of-00002.safetensors").write_bytes(b"one")
    (a / "model-00002-of-00002.safetensors").write_bytes(b"two")
    first = weights_hash(a)
    assert weights_hash(a, cache=True) == first == weights_hash(a, cache=True)
    (a / "model-00002-of-00002.safetensors").write_bytes(b"TWO")
    assert weights_hash(a) != first and weights_hash(a, cache=True) == weights_hash(a)
    with pytest.raises(ModelError, match="no \\*.safetensors"):
        weights_hash(tmp_path / "nothing-here")


def test_damaged_metadata_gives_one_clear_line(tmp_path):
    folder = _folder(tmp_path)
    (folder / "dataset_manifest.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="expected a JSON object at the top level, not a list"):
        read_model_folder(folder)
    (folder / "dataset_manifest.json").write_text("null")
    with pytest.raises(InputError, match="expected a JSON object at the top level, not null"):
        read_model_folder(folder)
    (folder / "dataset_manifest.json").write_text("[" * 100_000)
    with pytest.raises(InputError, match="dataset_manifest.json"):
        read_model_folder(folder)
    (folder / "training.json").write_text('{"format": ')
    with pytest.raises(InputError, match="training.json: invalid JSON at line 1, column 12"):
        read_model_folder(folder)
    (folder / "training.json").unlink()
    with pytest.raises(InputError, match="training.json: missing; is .* a model folder"):
        read_model_folder(folder)
    with pytest.raises(InputError, match="no such folder"):
        read_model_folder(tmp_path / "nope")
    assert read_json_object(tmp_path / "absent.json", missing_ok=True) is None
