"""Fine-tune a base model on a dataset folder and write a model folder.

    train(dataset_dir, output_dir, TrainConfig(), on_event=print) -> TrainResult

Recipe (see bench/train.py for the measurements behind the defaults): posts packed into fixed
blocks, fp32 master weights under bf16 autocast where bf16 was measured fast (ml/precision.py),
a full fine-tune by default (optionally the embeddings and lower layers frozen so the backward
pass stops early), fused AdamW, freed memory kept for reuse (ml/memory.py), cosine
schedule with warm-up, a loss that never materialises the full-vocabulary logits (ml/loss.py),
validation before training and a few times per epoch, best weights kept, early stopping.
``accelerate`` makes the same loop run as DDP under ``accelerate launch``.

The run reports through one ``on_event(TrainEvent)`` callback (tweettwin.train_events); printing
progress is the front end's business. The model card is rendered by the calling step
(tweettwin.pipeline.train_step) once the model folder is complete.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers.utils import logging as hf_logging

from tweettwin.atomic import atomic_dir
from tweettwin.errors import OutputExistsError, TrainingInterrupted
from tweettwin.ml import checkpoint
from tweettwin.ml.base_model import check_memory, load_base
from tweettwin.ml.data import (
    DatasetFolder,
    PackedBlocks,
    balance_authors,
    encode,
    eval_batches,
    post_texts,
    post_token_stats,
    read_dataset,
)
from tweettwin.ml.env import resolve_precision
from tweettwin.ml.loss import PostLM, held_out_loss, split_model
from tweettwin.ml.record import build_result, record_eval, resumable, training_record
from tweettwin.ml.save import post_max_new_tokens, save_model_folder
from tweettwin.ml.schedule import cosine_schedule, fit_budget
from tweettwin.train_config import TrainConfig, TrainResult
from tweettwin.train_events import OnEvent, TrainEvent

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

__all__ = ["TrainingInterrupted", "train"]  # TrainingInterrupted lives in tweettwin.errors


@dataclass
class RunState:
    """Bookkeeping that a checkpoint carries (besides weights and optimizer)."""

    step: int = 0
    total_steps: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    evals: list = field(default_factory=list)
    base_val_loss: float | None = None
    best_val_loss: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    stop_reason: str = "completed"


@dataclass
class _Run:
    """Everything one training run holds, built once by ``_setup`` and ``_prepare``."""

    config: TrainConfig
    output_dir: Path
    started: float
    accelerator: Accelerator
    data: DatasetFolder
    model: Any
    tokenizer: Any
    base: Any
    precision: str
    train_ids: list
    blocks: PackedBlocks
    val_batches: list
    per_step: int
    steps_per_epoch: int
    on_event: OnEvent
    params: list = field(default_factory=list)
    optimizer: Any = None
    scheduler: Any = None
    net: Any = None
    best_state: dict | None = None

    @property
    def work(self) -> Path:
        return checkpoint.work_dir(self.output_dir)

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.precision == "bf16" else torch.float32

    @property
    def rows_per_step(self) -> int:
        return self.per_step * self.accelerator.num_processes

    def emit(self, state: RunState, kind: str, **fields) -> None:
        if self.accelerator.is_main_process:
            epoch = state.step / self.steps_per_epoch
            self.on_event(
                TrainEvent(
                    kind, state.step, state.total_steps, state.tokens, state.train_seconds,
                    epoch, **fields,
                )
            )  # fmt: skip


def train(
    dataset_dir, output_dir, config: TrainConfig | None = None, *, on_event: OnEvent | None = None
) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``dataset_dir``; write the model folder ``output_dir``.

    ``on_event(TrainEvent)`` hears every step, evaluation, checkpoint and the end of the run.
    Ctrl-C (or a KeyboardInterrupt from ``on_event``) saves a checkpoint and raises
    ``TrainingInterrupted``; the same call with ``config.resume`` continues exactly.
    """
    config = config or TrainConfig()
    output_dir = Path(output_dir)
    if output_dir.exists() and not (config.overwrite or config.resume):
        raise OutputExistsError(
            f"{output_dir} already exists; choose another -o or pass --overwrite"
        )
    run = _setup(dataset_dir, output_dir, config, on_event or (lambda event: None))
    state = _prepare(run)
    try:
        _loop(run, state)
    except KeyboardInterrupt:
        _save_checkpoint(run, state)
        raise TrainingInterrupted(
            state.step, state.total_steps, run.work, Path(dataset_dir), output_dir
        ) from None
    return _finish(run, state)


def _setup(dataset_dir, output_dir: Path, config: TrainConfig, on_event: OnEvent) -> _Run:
    """Read the data, load the base model and cut the training posts into blocks."""
    started = time.perf_counter()
    hf_logging.disable_progress_bar()  # the front end shows one bar for the run
    data = read_dataset(dataset_dir)
    # cpu=True when there is no GPU: accelerate only sets up multi-process (gloo) DDP on CPU then.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(config.seed)
    model, tokenizer, base = load_base(config.base_model)
    check_memory(base.num_parameters, config.method)
    checkpoint.check_disk(output_dir, base.num_parameters, config)
    train_records = (
        balance_authors(data.train, config.seed) if config.balance_authors else data.train
    )
    sep_id = tokenizer.eos_token_id
    train_ids = encode(tokenizer, post_texts(train_records, config.author_tags))
    val_ids = encode(tokenizer, post_texts(data.validation, config.author_tags))
    blocks = PackedBlocks(train_ids, sep_id, config.block_size, config.seed)
    world = accelerator.num_processes
    per_step = max(1, min(config.batch_size, blocks.num_blocks // world))
    # recorded as run (training.json, checkpoints): the epochs this archive's size gave
    config = replace(config, epochs=config.planned_epochs(blocks.tokens_per_epoch))
    return _Run(
        config=config,
        output_dir=output_dir,
        started=started,
        accelerator=accelerator,
        data=data,
        model=_trainable(model, config),
        tokenizer=tokenizer,
        base=base,
        precision=resolve_precision(config.precision, accelerator.device),
        train_ids=train_ids,
        blocks=blocks,
        val_batches=eval_batches(val_ids, sep_id),
        per_step=per_step,
        steps_per_epoch=max(1, blocks.num_blocks // (per_step * world)),
        on_event=on_event,
    )


def _prepare(run: _Run) -> RunState:
    """Optimizer, schedule and wrapped model; then the resumed state, or a fresh one that starts
    with the base model's validation loss."""
    config, accelerator = run.config, run.accelerator
    state = RunState(
        total_steps=config.max_steps or max(1, math.ceil(config.epochs * run.steps_per_epoch))
    )
    run.params = [p for p in run.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        run.params,
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=accelerator.device.type in ("cpu", "cuda"),
    )
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(state, config))
    # frozen lower layers: no gradient below them, even for a tied embedding that still trains
    net = PostLM(run.model, dtype=run.dtype, detach_inputs=config.freeze_lower > 0)
    run.net, run.optimizer = accelerator.prepare(net, optimizer)
    if config.compile:
        run.net = torch.compile(run.net)
    if config.resume and (run.work / checkpoint.CHECKPOINT).exists():
        saved, progress = checkpoint.load(run.work, resumable(config))
        checkpoint.load_trainable_state(run.model, saved["model"])
        run.optimizer.load_state_dict(saved["optimizer"])
        run.scheduler.load_state_dict(saved["scheduler"])
        checkpoint.set_rng_state(saved["rng"])
        run.best_state = saved["best"]
        # in place: the schedule's closure reads this very object
        state.__dict__.update(RunState(**progress["state"]).__dict__)
        return state
    if accelerator.is_main_process:
        shutil.rmtree(run.work, ignore_errors=True)
    state.base_val_loss = held_out_loss(accelerator, run.net, run.val_batches, run.dtype)
    record_eval(state, 0, state.base_val_loss, 0)
    run.emit(state, "eval", val_loss=state.base_val_loss)
    return state


def _loop(run: _Run, state: RunState) -> None:
    """Optimizer steps until the planned steps, early stopping or the time budget end the run."""
    config = run.config
    eval_every = max(1, run.steps_per_epoch // config.evals_per_epoch)
    last_checkpoint = time.perf_counter()
    epoch_blocks: tuple[int, torch.Tensor] | None = None
    run.net.train()
    while state.step < state.total_steps:
        epoch, pos = divmod(state.step, run.steps_per_epoch)
        if epoch_blocks is None or epoch_blocks[0] != epoch:
            epoch_blocks = (epoch, run.blocks.epoch(epoch))
        rows = epoch_blocks[1][pos * run.rows_per_step : (pos + 1) * run.rows_per_step]
        step_start = time.perf_counter()
        loss = _step(run, rows)
        state.step += 1
        state.tokens += rows.numel()
        state.train_seconds += time.perf_counter() - step_start
        run.emit(state, "step", loss=loss, learning_rate=run.scheduler.get_last_lr()[0])
        fit_budget(state, config, run.started)
        if state.step % eval_every == 0 or state.step == state.total_steps:
            if _evaluate_and_keep_best(run, state):
                state.stop_reason = "early_stopping"
                return
        over_time = time.perf_counter() - run.started > (config.max_minutes or math.inf) * 60
        if config.max_minutes and _agree(run.accelerator, over_time):
            state.stop_reason = "max_minutes"
            return
        due = time.perf_counter() - last_checkpoint > config.checkpoint_minutes * 60
        if due and state.step < state.total_steps:  # after the last step the model is saved
            _save_checkpoint(run, state)
            last_checkpoint = time.perf_counter()


def _step(run: _Run, rows: torch.Tensor) -> float:
    """One optimizer step on this process's share of ``rows``; returns its training loss."""
    accelerator = run.accelerator
    x = rows[accelerator.process_index :: accelerator.num_processes].to(accelerator.device)
    with torch.autocast(
        accelerator.device.type, dtype=torch.bfloat16, enabled=run.dtype == torch.bfloat16
    ):
        loss = run.net(x, labels=x)
    accelerator.backward(loss)
    if run.config.max_grad_norm:
        accelerator.clip_grad_norm_(run.params, run.config.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _evaluate_and_keep_best(run: _Run, state: RunState) -> bool:
    """Validate, keep the best weights so far; True when early stopping says stop."""
    val_loss = held_out_loss(run.accelerator, run.net, run.val_batches, run.dtype)
    run.net.train()
    record_eval(state, state.step, val_loss, state.step / run.steps_per_epoch)
    run.emit(state, "eval", val_loss=val_loss)
    if val_loss < state.best_val_loss:
        state.best_val_loss, state.best_step, state.bad_evals = val_loss, state.step, 0
        run.best_state = checkpoint.trainable_state(run.model)
    else:
        state.bad_evals += 1
    patience = run.config.early_stopping_patience
    return bool(patience and state.bad_evals >= patience)


def _save_checkpoint(run: _Run, state: RunState) -> None:
    run.accelerator.wait_for_everyone()
    if not run.accelerator.is_main_process:
        return
    path = checkpoint.save(
        run.work,
        model=run.model,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        best_state=run.best_state,
        progress={"state": state.__dict__},
        config=resumable(run.config),
    )
    run.emit(state, "checkpoint", path=str(path))


def _finish(run: _Run, state: RunState) -> TrainResult:
    """Restore the best weights, write the model folder (atomically) and report the run."""
    config, accelerator = run.config, run.accelerator
    if config.max_steps and state.step >= config.max_steps and state.stop_reason == "completed":
        state.stop_reason = "max_steps"
    if run.best_state is not None and state.best_step != state.step:
        checkpoint.load_trainable_state(run.model, run.best_state)
    wall = time.perf_counter() - run.started
    result = build_result(state, config, run.output_dir, wall, run.steps_per_epoch)
    sep = run.tokenizer.eos_token
    training = training_record(
        result, state, config, run.base, run.data, run.precision, accelerator, run.train_ids, sep
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_dir(run.output_dir, overwrite=True) as tmp:
            save_model_folder(
                tmp,
                accelerator.unwrap_model(run.net).model,
                run.tokenizer,
                sep_id=run.tokenizer.eos_token_id,
                max_new_tokens=post_max_new_tokens(post_token_stats(run.train_ids)["p95_tokens"]),
                save_dtype=config.save_dtype,
                training=training,
                manifest=run.data.manifest,
                train_texts=[r["text"] for r in run.data.train],
                train_ids=run.train_ids,
            )
        shutil.rmtree(run.work, ignore_errors=True)
    accelerator.wait_for_everyone()
    result.record, result.training = training, training.to_dict()
    best = result.metrics["best_val_loss"]
    run.emit(state, "done", val_loss=best, path=str(run.output_dir), stop_reason=state.stop_reason)
    return result


def _trainable(model, config: TrainConfig):
    model.config.use_cache = False
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        targets = [t for t in LORA_TARGETS if any(n.endswith(t) for n, _ in model.named_modules())]
        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            task_type="CAUSAL_LM",
            target_modules=targets or "all-linear",
        )
        model = get_peft_model(model, lora)
        # peft froze the base; adapters in the frozen lower layers get no gradient either
        _freeze_lower(model, config.freeze_lower)
        return model.train()
    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
        model.get_output_embeddings().weight.requires_grad_(False)
    _freeze_lower(model, config.freeze_lower)
    return model.train()


def _freeze_lower(model, share: float) -> None:
    """Freeze the lowest ``share`` of the decoder layers. With the embeddings frozen too, nothing
    below the first trained layer needs a gradient, so autograd neither keeps those activations nor
    runs their backward: a step costs ~2N forward + 4N per trained layer instead of 6N."""
    if not share:
        return
    body, _ = split_model(model)
    layers = body.layers
    for layer in layers[: int(share * len(layers))]:
        layer.requires_grad_(False)


def _agree(accelerator, flag: bool) -> bool:
    """Same decision on every rank (wall clocks differ)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(
        accelerator.reduce(torch.tensor([float(flag)], device=accelerator.device), "max").item()
    )
