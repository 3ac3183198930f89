"""External trackers, each checked through its own on-disk format, offline: one short run each."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tweettwin import tracking
from tweettwin.errors import ConfigError
from tweettwin.tracking import reporters


def test_parse_report_to():
    assert reporters.parse_report_to("none") == []
    assert reporters.parse_report_to(None) == []
    assert reporters.parse_report_to("wandb,mlflow") == ["wandb", "mlflow"]
    assert reporters.parse_report_to(["TensorBoard", "wandb", "wandb"]) == ["tensorboard", "wandb"]
    with pytest.raises(ConfigError, match="wandb, mlflow, tensorboard or none"):
        reporters.parse_report_to("neptune")


def _pipeline_run(tmp_path: Path, report_to: str, **options) -> tracking.Run:
    """A small train run: one raw input, a dataset input, metrics at 3 steps, a model output."""
    raw = tmp_path / "archive.zip"
    raw.write_bytes(b"raw posts")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "manifest.json").write_text(json.dumps({"content_hash": "sha256:" + "d" * 64}))
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "README.md").write_text("# card\n")
    with tracking.start_run(
        "train", {"lr": 0.001, "lora": {"r": 16}}, report_to=report_to, reporter_options=options
    ) as run:
        run.add_input(raw)
        run.add_input(dataset / "manifest.json", kind="dataset")
        for step, loss in [(1, 3.0), (2, 2.5), (3, 2.25)]:
            run.log_metrics({"train/loss": loss}, step=step)
        run.log_metrics({"eval/loss": 2.4, "eval/perplexity": 11.0}, step=3)
        run.set_lineage(dataset_hash="sha256:" + "d" * 64, base_model="embedded")
        run.log_artifact(model, "model")
    return run


def test_tensorboard_writes_scalars_to_the_run_folder(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    run = _pipeline_run(tmp_path, "tensorboard")
    acc = EventAccumulator(str(run.dir / "tensorboard"))
    acc.Reload()
    # TensorBoard's numpy writer stores scalars as tensors (the format its UI reads).
    losses = [
        (e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors("train/loss")
    ]
    assert losses == [(1, 3.0), (2, 2.5), (3, 2.25)]
    assert "eval/perplexity" in acc.Tags()["tensors"]


def test_mlflow_local_store_has_params_metrics_lineage_and_artifacts(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = _pipeline_run(tmp_path, "mlflow", mlflow_tracking_uri=uri, mlflow_experiment="t")
    client = MlflowClient(tracking_uri=uri)
    [found] = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == f"train-{run.id}"
    assert found.data.params["lr"] == "0.001" and found.data.params["lora.r"] == "16"
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 3.0), (2, 2.5), (3, 2.25)]
    assert found.data.tags["tweettwin.lineage.base_model"] == "embedded"
    assert found.data.tags["tweettwin.model.sha256"] == tracking.sha256_file(
        tmp_path / "model" / "model.safetensors"
    )
    files = {f.path for f in client.list_artifacts(found.info.run_id, "model")}
    assert files == {"model/README.md", "model/model.safetensors"}


def _wandb_records(path: Path):
    """Records of a .wandb file (LevelDB-style log of protobuf Records, 32 KiB blocks).

    wandb >= 0.19 no longer ships a Python reader, and wandb.Api needs a server."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1)
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:  # block padding
            pos += left
            continue
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_has_config_metrics_and_artifact_lineage(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    run = _pipeline_run(tmp_path, "wandb")
    [wandb_file] = (run.dir / "wandb").glob("offline-run-*/run-*.wandb")
    records = list(_wandb_records(wandb_file))
    by_type: dict[str, list] = {}
    for r in records:
        by_type.setdefault(r.WhichOneof("record_type"), []).append(r)

    [run_rec] = [r.run for r in by_type["run"]]
    config = {u.key: json.loads(u.value_json) for u in run_rec.config.update}
    assert config["lr"] == 0.001 and config["lora"] == {"r": 16}
    assert run_rec.job_type == "train" and run_rec.display_name == f"train-{run.id}"

    losses = []
    for h in by_type["history"]:
        items = {
            i.nested_key[0] if i.nested_key else i.key: json.loads(i.value_json)
            for i in h.history.item
        }
        if "train/loss" in items:
            losses.append((items["_step"], items["train/loss"]))
    assert losses == [(1, 3.0), (2, 2.5), (3, 2.25)]

    artifacts = [(a.artifact.type, a.artifact.use_after_commit) for a in by_type["artifact"]]
    # raw data and dataset are used as inputs; the model is this run's output
    assert artifacts == [("raw-data", True), ("dataset", True), ("model", False)]
    model = by_type["artifact"][-1].artifact
    assert json.loads(model.metadata)["sha256"] == tracking.sha256_file(
        tmp_path / "model" / "model.safetensors"
    )
    assert tracking.get_run(run.id).status == "completed"
    assert by_type.get("exit")
