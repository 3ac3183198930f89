"""Local run registry: records, statuses, safety net, secrets, lineage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tweettwin import tracking
from tweettwin.errors import ConfigError, InputError, MissingExtraError
from tweettwin.paths import workspace


def _files_text(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


def test_completed_run_records_config_metrics_and_files():
    with tracking.start_run("train", {"lr": 3e-4, "epochs": 2}, name="demo") as run:
        run.log_params({"seed": 1})
        run.log_metrics({"train/loss": 2.5, "skip": "text"}, step=1)
        run.log_metrics({"train/loss": 2.0, "eval/loss": 2.2}, step=2)
    rec = tracking.get_run(run.id)
    assert rec.status == "completed" and rec.ended_at and rec.name == "demo"
    assert rec.config == {"lr": 3e-4, "epochs": 2} and rec.params == {"seed": 1}
    assert rec.summary == {"train/loss": 2.0, "eval/loss": 2.2}
    assert [m["step"] for m in rec.metrics()] == [1, 2]
    assert rec.metrics()[1]["eval/loss"] == 2.2
    run_dir = workspace() / "runs" / run.id
    assert json.loads((run_dir / "config.json").read_text()) == rec.config
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert (workspace() / "runs.db").exists()


def test_exception_marks_failed_and_ctrl_c_interrupted():
    with pytest.raises(ValueError), tracking.start_run("train", {}) as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), tracking.start_run("train", {}) as stopped:
        raise KeyboardInterrupt
    assert tracking.get_run(failed.id).status == "failed"
    assert "boom" in tracking.get_run(failed.id).error
    assert tracking.get_run(stopped.id).status == "interrupted"


def test_finish_is_idempotent_and_validates_status():
    run = tracking.start_run("eval", {})
    with pytest.raises(ConfigError):
        run.finish("running")
    run.finish("completed", outputs={"perplexity": 12.5})
    run.finish("failed")  # second call changes nothing
    rec = tracking.get_run(run.id)
    assert rec.status == "completed" and rec.outputs == {"perplexity": 12.5}


def _run_child(code: str) -> str:
    """Run ``code`` in a child Python with the same workspace; return its stdout."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def test_killed_process_leaves_no_running_run():
    # SIGKILL skips every handler: the pid check in list_runs must catch it.
    run_id = _run_child(
        "import os, signal; from tweettwin import tracking\n"
        "r = tracking.start_run('train', {}); print(r.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    with sqlite3.connect(workspace() / "runs.db") as db:  # raw row: still 'running'
        assert (
            db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0] == "running"
        )
    [rec] = tracking.list_runs()
    assert rec.id == run_id and rec.status == "interrupted"


def test_process_exiting_without_finish_is_interrupted_by_atexit():
    run_id = _run_child(
        "from tweettwin import tracking; print(tracking.start_run('prepare', {}).id)"
    )
    with sqlite3.connect(workspace() / "runs.db") as db:
        assert (
            db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0]
            == "interrupted"
        )


def test_sigterm_marks_the_run_interrupted():
    run_id = _run_child(
        "import os, signal; from tweettwin import tracking\n"
        "r = tracking.start_run('train', {}); print(r.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)"
    )
    rec = tracking.get_run(run_id)
    assert rec.status == "interrupted" and "SIGTERM" in rec.error


def test_secrets_are_never_stored(monkeypatch):
    token = "hf_" + "a1B2c3D4e5" * 4
    monkeypatch.setenv("HF_TOKEN", token)
    bearer = "AAAAAAAAAAAAAAAAAAAAA" + "x" * 60
    config = {
        "hf_token": token,
        "nested": {"password": "hunter2", "note": f"uses {token}"},
        "cmd": f"fetch --bearer {bearer}",
        "lr": 1e-3,
    }
    with tracking.start_run("fetch", config) as run:
        run.log_params({"api_key": "abc12345", "url": f"https://x/?t={token}"})
        with pytest.raises(RuntimeError):
            with tracking.start_run("fetch", {}) as inner:
                raise RuntimeError(f"server said no to {token}")
    everything = _files_text(workspace())
    for secret in (token, bearer, "hunter2", "abc12345"):
        assert secret not in everything
    rec = tracking.get_run(run.id)
    assert rec.config["hf_token"] == "***" and rec.config["lr"] == 1e-3
    assert rec.config["nested"]["note"] == "uses ***"
    assert token not in (tracking.get_run(inner.id).error or "")


def test_ids_sort_by_time_and_prefix_lookup():
    ids = [tracking.new_run_id(now_ms=t) for t in (1, 2, 10**12, 2**47)]
    assert ids == sorted(ids) and len(set(ids)) == 4 and all(len(i) == 26 for i in ids)
    first = tracking.start_run("prepare", {})
    first.finish()
    second = tracking.start_run("train", {})
    second.finish()
    assert [r.id for r in tracking.list_runs()] == [second.id, first.id]
    assert [r.id for r in tracking.list_runs(kind="prepare")] == [first.id]
    assert tracking.get_run(second.id.lower()).id == second.id
    with pytest.raises(InputError, match="no run"):
        tracking.get_run("ZZZZ")


def test_wal_mode_and_reader_during_write():
    run = tracking.start_run("train", {})
    writer = tracking.connect()
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE runs SET name = 'x' WHERE id = ?", (run.id,))
    # A reader is not blocked by an open write transaction and sees the last committed state.
    assert tracking.get_run(run.id).name is None
    writer.execute("COMMIT")
    writer.close()
    assert tracking.get_run(run.id).name == "x"
    run.finish()


def test_migrations_are_recorded_once():
    tracking.connect().close()
    db = tracking.connect()
    names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in tracking.MIGRATIONS]
    db.close()


def test_missing_tracker_fails_before_the_run_starts(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'tweettwin\[mlflow\]'"):
        tracking.start_run("train", {}, report_to="tensorboard,mlflow")
    assert tracking.list_runs() == []
    with pytest.raises(ConfigError, match="--report-to"):
        tracking.start_run("train", {}, report_to=["comet"])


def _fake_pipeline(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Two input files -> prepare run -> dataset -> train run -> model folder, recorded the way
    the prepare and train commands do (manifest paths relative to the SOURCE's folder)."""
    src = tmp_path / "exports"
    src.mkdir()
    inputs = [src / "archive.zip", src / "extra.csv"]
    for i, p in enumerate(inputs):
        p.write_bytes(f"input {i}".encode())
    content_hash = "sha256:" + "d" * 64
    manifest = {
        "format": "tweettwin-dataset", "format_version": 1, "content_hash": content_hash,
        "inputs": [{"path": p.name, "sha256": tracking.sha256_file(p).removeprefix("sha256:"),
                    "bytes": p.stat().st_size} for p in inputs],
    }  # fmt: skip
    dataset = tmp_path / "ada" / "data"
    dataset.mkdir(parents=True)
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with tracking.start_run("prepare", {"min_words": 3}) as prep:
        prep.log_dataset(dataset, sources=[str(p) for p in inputs])
    model = tmp_path / "ada" / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "dataset_manifest.json").write_text(json.dumps(manifest))
    (model / "training.json").write_text(json.dumps(
        {"base_model": {"model_id": "embedded", "weights_sha256": "sha256:" + "b" * 64},
         "dataset": {"content_hash": content_hash}}))  # fmt: skip
    with tracking.start_run("train", {"lr": 1e-3}) as train:
        train.use_dataset(dataset)
        train.log_model(model)
    return model, inputs


def test_lineage_walks_model_back_to_input_files(tmp_path):
    model, inputs = _fake_pipeline(tmp_path)
    lin = tracking.lineage(model)
    train = tracking.list_runs(kind="train")[0]
    prep = tracking.list_runs(kind="prepare")[0]
    assert lin["model"]["sha256"] == tracking.sha256_file(model / "model.safetensors")
    assert lin["model"]["run_id"] == train.id
    assert lin["base_model"] == {"id": "embedded", "sha256": "sha256:" + "b" * 64}
    assert lin["dataset"]["run_id"] == prep.id and lin["dataset"]["content_hash"].endswith("d" * 64)
    assert lin["dataset"]["path"] == str((tmp_path / "ada" / "data").resolve())
    assert [(i["path"], i["location"], i["status"]) for i in lin["inputs"]] == [
        (p.name, str(p.resolve()), "ok") for p in inputs
    ]
    assert train.lineage["dataset_hash"] == lin["dataset"]["content_hash"]
    assert train.lineage["base_model"] == "embedded"
    assert train.inputs[0]["sha256"].endswith("d" * 64)
    assert {i["sha256"] for i in prep.inputs} == {i["sha256"] for i in lin["inputs"]}

    inputs[0].write_bytes(b"edited later")
    inputs[1].unlink()
    statuses = [i["status"] for i in tracking.lineage(model)["inputs"]]
    assert statuses == ["changed", "missing"]


def test_lineage_of_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(InputError, match="training.json"):
        tracking.lineage(tmp_path)


def test_cli_runs_list_show_and_lineage(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # rich tables fit the (fake) terminal
    from click.testing import CliRunner

    from tweettwin.cli import cli

    model, inputs = _fake_pipeline(tmp_path)
    train = tracking.list_runs(kind="train")[0]
    with tracking.start_run("train", {}) as run:
        for step, loss in [(1, 3.0), (2, 2.6), (3, 2.4)]:
            run.log_metrics({"train/loss": loss, "eval/loss": loss + 0.2}, step=step)
    runner = CliRunner()

    listed = runner.invoke(cli, ["runs"])
    assert listed.exit_code == 0 and train.id in listed.output and "completed" in listed.output
    as_json = json.loads(runner.invoke(cli, ["runs", "--json", "--kind", "prepare"]).output)
    assert [r["kind"] for r in as_json] == ["prepare"]

    shown = runner.invoke(cli, ["runs", "show", run.id[:12]])
    assert shown.exit_code == 0, shown.output
    png = Path(shown.stdout.strip().splitlines()[-1])
    assert png.resolve() == (run.dir / "loss_curve.png").resolve()
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "eval/loss" in shown.output

    lin = runner.invoke(cli, ["runs", "lineage", str(model)])
    assert lin.exit_code == 0 and "archive.zip" in lin.output and "unchanged" in lin.output
    lin_json = json.loads(runner.invoke(cli, ["runs", "lineage", str(model), "--json"]).output)
    assert lin_json["model"]["run_id"] == train.id

    missing = runner.invoke(cli, ["runs", "show", "NOPE"])
    assert missing.exit_code == 2 and "Error: no run" in missing.output


# -- a damaged or locked registry never stops the job (#10) ----------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-archive.zip"


def _damage_registry() -> Path:
    db = workspace() / "runs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite file\n" * 200)
    return db


def test_damaged_registry_warns_once_and_the_run_goes_on(tmp_path):
    from tweettwin.errors import TweettwinWarning

    _damage_registry()
    with pytest.warns(TweettwinWarning, match=r"not recording this run: .*runs\.db.*mv ") as seen:
        with tracking.start_run("prepare", {"x": 1}) as run:
            run.log_metrics({"loss": 1.0}, step=1)
            run.log_artifact(SAMPLE, "raw-data")
    assert len(seen) == 1 and run.status == "completed" and run.recorded is False


def test_prepare_finishes_on_a_damaged_registry_with_one_warning_line(tmp_path):
    from click.testing import CliRunner

    from tweettwin.cli import cli

    damaged = _damage_registry()
    result = CliRunner().invoke(cli, ["prepare", str(SAMPLE), "-o", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "train.jsonl").stat().st_size > 0
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning: not rec")]
    assert len(warned) == 1 and f"mv {damaged} {damaged}.damaged" in warned[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["runs"], ["runs", "--json"], ["runs", "show", "01J"]])
def test_runs_on_a_damaged_registry_is_one_error_line(args):
    from click.testing import CliRunner

    from tweettwin.cli import cli

    _damage_registry()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: the run registry ") and "move it away" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_locked_registry_waits_briefly_then_the_run_goes_on(monkeypatch):
    from tweettwin.errors import TweettwinWarning
    from tweettwin.tracking import registry

    assert registry.LOCK_TIMEOUT_S <= 10  # not SQLite's silent 30 s
    done = tracking.start_run("prepare", {})  # a healthy registry...
    done.finish()
    holder = sqlite3.connect(workspace() / "runs.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # ...whose write lock another process holds
    monkeypatch.setattr(registry, "LOCK_TIMEOUT_S", 0.2)
    try:
        assert [r.id for r in tracking.list_runs()] == [done.id]  # readers are not blocked
        with pytest.warns(TweettwinWarning, match="locked by another process"):
            with tracking.start_run("train", {}) as run:
                run.log_metrics({"loss": 2.0}, step=1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run.status == "completed" and run.recorded is False
    assert [r.id for r in tracking.list_runs()] == [done.id]  # nothing half-written


@pytest.mark.parametrize("make_it", ["file", "dir-as-db"])
def test_unusable_workspace_warns_and_the_run_goes_on(tmp_path, make_it):
    from tweettwin.errors import TweettwinWarning

    ws = tmp_path / "ws"
    if make_it == "file":
        ws.write_text("not a folder")  # the run folder cannot be made
        expected = "make the workspace .* a writable folder"
    else:
        (ws / "runs.db").mkdir(parents=True)  # SQLite cannot open a folder
        expected = r"move it away \(mv "
    with pytest.warns(TweettwinWarning, match=expected):
        with tracking.start_run("fetch", {}, workspace=ws) as run:
            run.log_metrics({"fetched": 3}, step=0)
            run.set_lineage(account="@a")
    assert run.status == "completed" and run.recorded is False
