"""The training loop on a tiny offline model: learning, LoRA, best/early stop, resume, Ctrl-C,
the model folder and the `pipeline(...)` snippet, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file

from tests.ml.conftest import synthetic_posts, tiny_train_config, write_dataset
from tweettwin.errors import (
    ConfigError,
    DatasetError,
    ModelError,
    OutputExistsError,
    TrainingInterrupted,
    TweettwinError,
)
from tweettwin.ml import train as train_module
from tweettwin.ml.data import balance_authors, post_texts
from tweettwin.ml.train import train
from tweettwin.train_config import TrainConfig

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.ml


def config(model_dir, **kw):
    return tiny_train_config(model_dir, **kw)


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_full_training_changes_every_weight_and_lowers_val_loss(
    tiny_model_dir, tiny_dataset_dir, tmp_path
):
    result = train(tiny_dataset_dir, tmp_path / "model", config(tiny_model_dir, epochs=3))
    before, after = weights(tiny_model_dir), weights(tmp_path / "model")
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert not unchanged
    m = result.metrics
    assert m["best_val_loss"] < m["base_val_loss"] - 0.5
    training = json.loads((tmp_path / "model" / "training.json").read_text())
    assert training["evals"][0]["step"] == 0 and len(training["evals"]) >= 4
    assert training["metrics"]["base_val_perplexity"] > training["metrics"]["best_val_perplexity"]
    assert training["separator"] == "<|endoftext|>"
    assert training["dataset"]["content_hash"].startswith("sha256:")
    assert training["base_model"]["weights_sha256"].startswith("sha256:")
    assert (
        json.loads((tmp_path / "model" / "dataset_manifest.json").read_text())["format"]
        == "tweettwin-dataset"
    )
    assert not list(tmp_path.glob(".model*"))  # no work or temp folders left behind


def test_without_epochs_a_small_archive_trains_two_and_records_them(
    tiny_model_dir, tiny_dataset_dir, tmp_path
):
    """The tiny dataset is far under the token floor: two epochs, one evaluation after each,
    and training.json records the epochs the run planned, not None."""
    result = train(tiny_dataset_dir, tmp_path / "model", config(tiny_model_dir, epochs=None))
    training = json.loads((tmp_path / "model" / "training.json").read_text())
    assert result.epochs == 2.0 and training["hyperparameters"]["epochs"] == 2.0
    assert [e["epoch"] for e in training["evals"]] == [0, 1, 2]


def test_lora_trains_only_adapters_and_saves_a_merged_plain_model(
    tiny_model_dir, tiny_dataset_dir, tmp_path
):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = train_module._trainable(model, config(tiny_model_dir, method="lora"))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)

    train(
        tiny_dataset_dir,
        tmp_path / "lora",
        config(tiny_model_dir, method="lora", max_steps=8),
    )
    assert not (tmp_path / "lora" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora")
    before = weights(tiny_model_dir)
    after = merged.state_dict()
    assert not torch.equal(
        before["model.layers.0.self_attn.q_proj.weight"],
        after["model.layers.0.self_attn.q_proj.weight"],
    )
    assert torch.equal(before["model.norm.weight"], after["model.norm.weight"])  # not a LoRA target


def test_best_checkpoint_is_kept_and_early_stopping_triggers(
    tiny_model_dir, tiny_dataset_dir, tmp_path, monkeypatch
):
    scripted = iter([6.0, 5.0, 4.0, 4.5, 4.6, 4.7, 4.8])
    monkeypatch.setattr(train_module, "held_out_loss", lambda *a: next(scripted))
    snapshots, step = {}, train_module._step

    def snapshot_after_step(run, rows):  # the weights after each optimizer step, by step number
        loss = step(run, rows)
        params = run.model.named_parameters()
        snapshots[len(snapshots) + 1] = {n: p.detach().clone() for n, p in params}
        return loss

    monkeypatch.setattr(train_module, "_step", snapshot_after_step)
    cfg = config(tiny_model_dir, epochs=10, evals_per_epoch=1, early_stopping_patience=2)
    events = []
    result = train(tiny_dataset_dir, tmp_path / "m", cfg, on_event=events.append)
    assert result.stop_reason == "early_stopping"
    steps_per_eval = result.metrics["best_step"] // 2
    assert result.steps == 4 * steps_per_eval  # evals 1..4; stopped after two bad ones
    best, saved = snapshots[result.metrics["best_step"]], weights(tmp_path / "m")
    assert all(torch.equal(best[n], saved[n]) for n in saved)
    assert result.metrics["best_val_loss"] == 4.0
    evals = [e for e in events if e.kind == "eval"]
    assert [e.val_loss for e in evals] == [6.0, 5.0, 4.0, 4.5, 4.6]
    assert [e.step for e in evals] == [i * steps_per_eval for i in range(5)]
    assert sum(e.kind == "step" for e in events) == result.steps
    (done,) = [e for e in events if e.kind == "done"]
    assert events[-1] is done and done.stop_reason == "early_stopping" and done.val_loss == 4.0
    assert done.path == str(tmp_path / "m")


def test_interrupt_saves_checkpoint_and_resume_matches_uninterrupted_run(
    tiny_model_dir, tiny_dataset_dir, tmp_path
):
    cfg = config(tiny_model_dir, max_steps=10, early_stopping_patience=None)
    train(tiny_dataset_dir, tmp_path / "a", cfg)

    def interrupt(event):  # what Ctrl-C does during step 5
        if event.kind == "step" and event.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="--resume") as stopped:
        train(tiny_dataset_dir, tmp_path / "b", cfg, on_event=interrupt)
    assert isinstance(stopped.value, TweettwinError)  # front ends catch it without torch
    assert f"-o {tmp_path / 'b'} --resume" in str(stopped.value)
    assert not (tmp_path / "b").exists()
    assert (tmp_path / ".b.train" / "checkpoint" / "state.pt").is_file()
    resumed = train(
        tiny_dataset_dir,
        tmp_path / "b",
        config(tiny_model_dir, max_steps=10, early_stopping_patience=None, resume=True),
    )
    assert resumed.steps == 10
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[n], b[n]) for n in a)
    ta = json.loads((tmp_path / "a" / "training.json").read_text())["evals"]
    tb = json.loads((tmp_path / "b" / "training.json").read_text())["evals"]
    assert [e["val_loss"] for e in ta] == [e["val_loss"] for e in tb]


def test_resume_refuses_changed_options(tiny_model_dir, tiny_dataset_dir, tmp_path):
    def interrupt(event):
        if event.kind == "step":
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        train(
            tiny_dataset_dir,
            tmp_path / "m",
            config(tiny_model_dir, max_steps=5),
            on_event=interrupt,
        )
    with pytest.raises(ConfigError, match="learning_rate"):
        train(
            tiny_dataset_dir,
            tmp_path / "m",
            config(tiny_model_dir, max_steps=5, learning_rate=1e-4, resume=True),
        )


def test_pipeline_snippet_works_on_the_saved_folder(tiny_model_dir, tiny_dataset_dir, tmp_path):
    from transformers import AutoTokenizer, pipeline

    train(
        tiny_dataset_dir,
        tmp_path / "m",
        config(tiny_model_dir, max_steps=4, save_dtype="bfloat16"),
    )
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    ids = tok("My dream is").input_ids
    assert (
        ids[0] == tok.convert_tokens_to_ids("<|endoftext|>") == tok.eos_token_id == tok.bos_token_id
    )
    assert tok.decode(ids, skip_special_tokens=True) == "My dream is"
    gen = json.loads((tmp_path / "m" / "generation_config.json").read_text())
    assert gen["do_sample"] and gen["eos_token_id"] == ids[0] and gen["max_new_tokens"] >= 40

    out = pipeline("text-generation", model=str(tmp_path / "m"))(
        "My dream is", num_return_sequences=5
    )
    texts = [o["generated_text"] for o in out]
    assert len(texts) == 5 and all(t.startswith("My dream is") for t in texts)
    assert "<|endoftext|>" not in "".join(texts)


def test_refuses_existing_output_and_keeps_it(tiny_model_dir, tiny_dataset_dir, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("finished model")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        train(tiny_dataset_dir, out, config(tiny_model_dir, max_steps=2))
    assert (out / "keep.txt").read_text() == "finished model"
    train(tiny_dataset_dir, out, config(tiny_model_dir, max_steps=2, overwrite=True))
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()


def test_bad_datasets_give_one_line_errors(tiny_model_dir, tmp_path):
    with pytest.raises(DatasetError, match="prepare"):
        train(tmp_path / "missing", tmp_path / "m", config(tiny_model_dir))
    newer = tmp_path / "newer"
    write_dataset(newer, synthetic_posts(40))
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(DatasetError, match="format"):
        train(newer, tmp_path / "m", config(tiny_model_dir))
    empty = tmp_path / "empty"
    write_dataset(empty, [])
    with pytest.raises(DatasetError, match="no posts"):
        train(empty, tmp_path / "m", config(tiny_model_dir))
    assert not (tmp_path / "m").exists()


def test_base_model_that_is_not_a_causal_lm(tiny_dataset_dir, tmp_path):
    from transformers import ViTConfig, ViTModel

    vit = tmp_path / "vit"
    ViTModel(
        ViTConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            image_size=32,
            patch_size=16,
        )
    ).save_pretrained(vit)
    with pytest.raises(ModelError, match="not a causal language model"):
        train(tiny_dataset_dir, tmp_path / "m", TrainConfig(base_model=str(vit)))


def test_hub_id_offline_names_the_embedded_default(tiny_dataset_dir, tmp_path):
    with pytest.raises(ModelError, match="--base-model embedded"):
        train(
            tiny_dataset_dir,
            tmp_path / "m",
            TrainConfig(base_model="tweettwin-test/no-such-model"),
        )


def test_authors_are_balanced_and_tagged():
    posts = synthetic_posts(30, author="big") + synthetic_posts(7, seed=1, author="small")
    balanced = balance_authors(posts, seed=0)
    assert (
        sum(p["author"] == "small" for p in balanced)
        == 30
        == sum(p["author"] == "big" for p in balanced)
    )
    assert post_texts(posts[:1], author_tags=True)[0] == "@big: " + posts[0]["text"]


def test_author_tags_are_recorded(tiny_model_dir, tmp_path):
    data = tmp_path / "two"
    write_dataset(
        data, synthetic_posts(120, author="ann") + synthetic_posts(40, seed=3, author="bob")
    )
    result = train(data, tmp_path / "m", config(tiny_model_dir, max_steps=2, author_tags=True))
    assert result.training["author_tags"] is True
    assert result.training["authors"] == ["ann", "bob"]
    # tagged posts all start "@handle: ", a sample's prompt: no table of how posts start
    assert (tmp_path / "m" / "post_vocab.json").is_file()
    assert not (tmp_path / "m" / "post_starts.json").exists()


def test_cli_train_json(tiny_model_dir, tiny_dataset_dir, tmp_path):
    from tweettwin.cli import cli

    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(tiny_dataset_dir),
            "-o",
            str(tmp_path / "m"),
            "--base-model",
            str(tiny_model_dir),
            "--max-steps",
            "2",
            "--block-size",
            "64",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["steps"] == 2 and out["output_dir"] == str(tmp_path / "m")
    again = CliRunner().invoke(
        cli,
        [
            "train",
            str(tiny_dataset_dir),
            "-o",
            str(tmp_path / "m"),
            "--base-model",
            str(tiny_model_dir),
        ],
    )
    assert again.exit_code == 2 and "already exists" in again.output


@pytest.mark.parametrize("freeze_embeddings", [True, False])
def test_frozen_lower_layers_stay_as_the_base_had_them(
    tiny_model_dir, tiny_dataset_dir, tmp_path, freeze_embeddings
):
    cfg = config(tiny_model_dir, max_steps=6, freeze_embeddings=freeze_embeddings, freeze_lower=0.5)
    result = train(tiny_dataset_dir, tmp_path / "m", cfg)
    before, after = weights(tiny_model_dir), weights(tmp_path / "m")
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert not any(n.startswith("model.layers.0.") for n in changed)  # the frozen lower half
    assert any(n.startswith("model.layers.1.") for n in changed)
    # the tied embedding trains as the LM head unless it is frozen too
    assert ("model.embed_tokens.weight" in changed) is not freeze_embeddings
    assert result.metrics["best_val_loss"] < result.metrics["base_val_loss"]
    assert result.training["hyperparameters"]["freeze_lower"] == 0.5


def _interrupt_at_step(monkeypatch, at: int):
    step = train_module._step
    calls = []

    def ctrl_c(run, rows):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return step(run, rows)

    monkeypatch.setattr(train_module, "_step", ctrl_c)


def test_cli_ctrl_c_says_how_to_resume_and_resume_finishes(
    tiny_model_dir, tiny_dataset_dir, tmp_path, monkeypatch
):
    from tweettwin import tracking
    from tweettwin.cli import cli

    args = ["train", str(tiny_dataset_dir), "-o", str(tmp_path / "m")]
    args += ["--base-model", str(tiny_model_dir), "--max-steps", "6", "--block-size", "64"]
    step = train_module._step
    _interrupt_at_step(monkeypatch, 3)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130
    assert f"tweettwin train {tiny_dataset_dir} -o {tmp_path / 'm'} --resume" in res.stderr
    assert "Error" not in res.stderr and "Traceback" not in res.output
    assert "training step 0/6  val " in res.stderr  # plain progress lines off a terminal
    (run,) = tracking.list_runs()
    assert run.status == "interrupted"
    monkeypatch.setattr(train_module, "_step", step)  # (not undo(): that drops the temp workspace)
    resumed = CliRunner().invoke(cli, [*args, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["steps"] == 6


def test_make_ctrl_c_during_training_says_how_to_resume(tiny_model_dir, tmp_path, monkeypatch):
    from pathlib import Path

    from tweettwin.cli import cli

    sample = Path(__file__).resolve().parents[2] / "examples" / "sample-archive.zip"
    _interrupt_at_step(monkeypatch, 2)
    out = tmp_path / "model"
    args = ["make", str(sample), "-o", str(out), "--base-model", str(tiny_model_dir)]
    res = CliRunner().invoke(cli, [*args, "--block-size", "64", "--max-steps", "4"])
    assert res.exit_code == 130
    assert "Interrupted." not in res.stderr
    assert f"-o {out} --resume" in res.stderr and "checkpoint saved" in res.stderr


def test_every_block_starts_where_sampling_starts():
    """Each packed block opens with the separator and a post's first token (the context a model
    samples from), epochs keep one shape, and a post cut at a block's end is a prefix of it."""
    import torch

    from tweettwin.ml.data import PackedBlocks

    sep = 0
    posts = [[100 + i] + [1000 + i * 10 + k for k in range(i % 7)] for i in range(60)]
    starts = {p[0] for p in posts}
    packed = PackedBlocks(posts, sep, block_size=16, seed=3)
    shapes = set()
    for epoch in range(3):
        blocks = packed.epoch(epoch)
        shapes.add(tuple(blocks.shape))
        assert blocks[:, 0].eq(sep).all()
        assert {int(t) for t in blocks[:, 1]} <= starts
        for row in blocks.tolist():  # every run between separators is a post or a post's head
            runs, cur = [], []
            for t in row[1:]:
                if t == sep:
                    runs.append(cur)
                    cur = []
                else:
                    cur.append(t)
            runs.append(cur)
            for run in filter(None, runs):
                post = posts[run[0] - 100]
                assert run == post[: len(run)]
    assert shapes == {(packed.num_blocks, 16)}
    assert torch.equal(packed.epoch(1), PackedBlocks(posts, sep, 16, 3).epoch(1))
    assert not torch.equal(packed.epoch(0), packed.epoch(1))


def test_held_out_batches_hold_every_post_once_with_little_padding():
    """Each validation post is scored once as S text S; a batch's posts are of like length, so
    padding stays a small share (posts of 3 to 120 tokens used to share batches)."""
    from tweettwin.ml.data import IGNORE, eval_batches

    sep = 0
    posts = [[1 + (i * 7919) % 500] * (1 + (i * 37) % 120) for i in range(150)]
    batches = eval_batches(posts, sep)
    seen, real, padded = [], 0, 0
    for ids, mask, labels in batches:
        assert ids.numel() <= 4096
        widths = mask.sum(1)
        assert int(widths.max()) <= int(widths.min() * 1.15) + 2
        for row, width in zip(ids.tolist(), widths.tolist(), strict=True):
            assert row[0] == sep and row[width - 1] == sep
            seen.append(row[1 : width - 1])
        assert labels[:, 0].eq(IGNORE).all() and labels[mask == 0].eq(IGNORE).all()
        real, padded = real + int(mask.sum()), padded + ids.numel()
    assert sorted(seen) == sorted(posts)
    assert padded < 1.15 * real


def test_no_resumable_checkpoint_after_the_last_step(tiny_model_dir, tiny_dataset_dir, tmp_path):
    """A checkpoint falls due every step here; after the last one the model itself is saved, so
    writing weights and optimizer state there too would only cost time."""
    events = []
    cfg = config(tiny_model_dir, max_steps=3, checkpoint_minutes=1e-9)
    train(tiny_dataset_dir, tmp_path / "m", cfg, on_event=events.append)
    saved = [e.step for e in events if e.kind == "checkpoint"]
    assert saved == [1, 2]
