"""Fine-tune a base model on a dataset folder and write a model folder.

    train(dataset_dir, output_dir, TrainConfig()) -> TrainResult

Recipe (see bench/train.py for the measurements behind the defaults): posts packed into fixed
blocks, fp32 master weights under bf16 autocast where the hardware has native bf16, fused AdamW,
cosine schedule with warm-up, a loss that never materialises the full-vocabulary logits
(ml/loss.py), validation before training and a few times per epoch, best weights kept, early
stopping. ``accelerate`` makes the same loop run as DDP under ``accelerate launch``.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers.utils import logging as hf_logging

from tweettwin.atomic import atomic_dir
from tweettwin.errors import OutputExistsError
from tweettwin.ml import checkpoint
from tweettwin.ml.base_model import check_memory, load_base
from tweettwin.ml.data import (
    PackedBlocks,
    balance_authors,
    encode,
    eval_batches,
    post_texts,
    post_token_stats,
    read_dataset,
)
from tweettwin.ml.env import resolve_precision
from tweettwin.ml.loss import PostLM
from tweettwin.ml.progress import TrainProgress, check_disk
from tweettwin.ml.record import build_result, record_eval, resumable, training_record
from tweettwin.ml.save import post_max_new_tokens, save_model_folder
from tweettwin.train_config import TrainConfig, TrainResult

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: a checkpoint was saved; ``str()`` says how to resume."""


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


def train(
    dataset_dir,
    output_dir,
    config: TrainConfig | None = None,
    *,
    tracker=None,
    progress: bool = True,
    on_step=None,
) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``dataset_dir``; write the model folder ``output_dir``.

    ``tracker``: object with ``log_metrics(metrics: dict, step: int)`` (or None).
    ``on_step(step, model)`` is called after every optimizer step (tests use it to simulate Ctrl-C).
    """
    config = config or TrainConfig()
    output_dir = Path(output_dir)
    work = checkpoint.work_dir(output_dir)
    if output_dir.exists() and not (config.overwrite or config.resume):
        raise OutputExistsError(
            f"{output_dir} already exists; choose another -o or pass --overwrite"
        )
    started = time.perf_counter()
    hf_logging.disable_progress_bar()  # our bar is enough; per-load bars are noise
    data = read_dataset(dataset_dir)
    # cpu=True when there is no GPU: accelerate only sets up multi-process (gloo) DDP on CPU then.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(config.seed)
    model, tokenizer, base = load_base(config.base_model)
    check_memory(base.num_parameters, config.method)
    check_disk(output_dir, base.num_parameters, config)
    precision = resolve_precision(config.precision, accelerator.device)
    sep_id = tokenizer.eos_token_id
    model = _trainable(model, config)

    train_records = (
        balance_authors(data.train, config.seed) if config.balance_authors else data.train
    )
    train_ids = encode(tokenizer, post_texts(train_records, config.author_tags))
    val_ids = encode(tokenizer, post_texts(data.validation, config.author_tags))
    blocks = PackedBlocks(train_ids, sep_id, config.block_size, config.seed)
    world = accelerator.num_processes
    per_step = max(1, min(config.batch_size, blocks.num_blocks // world))
    steps_per_epoch = max(1, blocks.num_blocks // (per_step * world))
    state = RunState(
        total_steps=config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    )
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=accelerator.device.type in ("cpu", "cuda"),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(state, config))
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    net, optimizer = accelerator.prepare(PostLM(model, dtype=dtype), optimizer)
    if config.compile:
        net = torch.compile(net)
    evals = eval_batches(val_ids, sep_id)
    evaluate = lambda: _evaluate(accelerator, net, evals, dtype)  # noqa: E731
    log = tracker.log_metrics if tracker is not None else (lambda metrics, step: None)
    best_state = None
    if config.resume and (work / checkpoint.CHECKPOINT).exists():
        saved, progress_record = checkpoint.load(work, resumable(config))
        checkpoint.load_trainable_state(model, saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        checkpoint.set_rng_state(saved["rng"])
        best_state = saved["best"]
        state = RunState(**progress_record["state"])
    else:
        shutil.rmtree(work, ignore_errors=True) if accelerator.is_main_process else None
        state.base_val_loss = evaluate()
        record_eval(state, 0, state.base_val_loss, 0)
        log({"val_loss": state.base_val_loss, "val_perplexity": math.exp(state.base_val_loss)}, 0)

    def save_checkpoint():
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            checkpoint.save(
                work,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                best_state=best_state,
                progress={"state": state.__dict__},
                config=resumable(config),
            )

    bar = TrainProgress(state.total_steps, enabled=progress and accelerator.is_main_process)
    last_checkpoint = time.perf_counter()
    epoch_cache: dict[int, torch.Tensor] = {}
    net.train()
    try:
        with bar:
            bar.update(
                state.step, state.tokens, state.train_seconds, val=state.evals[-1]["val_loss"]
            )
            while state.step < state.total_steps:
                step_start = time.perf_counter()
                epoch, pos = divmod(state.step, steps_per_epoch)
                if epoch not in epoch_cache:
                    epoch_cache = {epoch: blocks.epoch(epoch)}
                rows = epoch_cache[epoch][pos * per_step * world : (pos + 1) * per_step * world]
                x = rows[accelerator.process_index :: world].to(accelerator.device)
                with torch.autocast(
                    accelerator.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
                ):
                    loss = net(x, labels=x)
                accelerator.backward(loss)
                if config.max_grad_norm:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.tokens += rows.numel()
                state.train_seconds += time.perf_counter() - step_start
                train_loss = loss.item()
                bar.update(
                    state.step,
                    state.tokens,
                    state.train_seconds,
                    loss=train_loss,
                    total=state.total_steps,
                )
                log(
                    {
                        "train_loss": train_loss,
                        "learning_rate": scheduler.get_last_lr()[0],
                        "epoch": state.step / steps_per_epoch,
                    },
                    state.step,
                )
                _fit_budget(state, config, started)
                if state.step % eval_every == 0 or state.step == state.total_steps:
                    val_loss = evaluate()
                    net.train()
                    record_eval(state, state.step, val_loss, state.step / steps_per_epoch)
                    bar.update(state.step, state.tokens, state.train_seconds, val=val_loss)
                    log({"val_loss": val_loss, "val_perplexity": math.exp(val_loss)}, state.step)
                    if val_loss < state.best_val_loss:
                        state.best_val_loss, state.best_step, state.bad_evals = (
                            val_loss,
                            state.step,
                            0,
                        )
                        best_state = checkpoint.trainable_state(model)
                    else:
                        state.bad_evals += 1
                    if (
                        config.early_stopping_patience
                        and state.bad_evals >= config.early_stopping_patience
                    ):
                        state.stop_reason = "early_stopping"
                        break
                if config.max_minutes and _agree(
                    accelerator, time.perf_counter() - started > config.max_minutes * 60
                ):
                    state.stop_reason = "max_minutes"
                    break
                if time.perf_counter() - last_checkpoint > config.checkpoint_minutes * 60:
                    save_checkpoint()
                    last_checkpoint = time.perf_counter()
                if on_step is not None:
                    on_step(state.step, model)
    except KeyboardInterrupt:
        save_checkpoint()
        raise TrainingInterrupted(
            f"Interrupted at step {state.step}/{state.total_steps}; checkpoint saved in {work}. "
            "Resume with the same command plus --resume."
        ) from None
    if config.max_steps and state.step >= config.max_steps and state.stop_reason == "completed":
        state.stop_reason = "max_steps"
    if best_state is not None and state.best_step != state.step:
        checkpoint.load_trainable_state(model, best_state)
    wall = time.perf_counter() - started
    result = build_result(state, config, output_dir, wall, steps_per_epoch)
    training = training_record(
        result, state, config, base, data, precision, accelerator, train_ids, tokenizer.eos_token
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_dir(output_dir, overwrite=True) as tmp:
            save_model_folder(
                tmp,
                accelerator.unwrap_model(net).model,
                tokenizer,
                sep_id=sep_id,
                max_new_tokens=post_max_new_tokens(post_token_stats(train_ids)["p95_tokens"]),
                save_dtype=config.save_dtype,
                training=training,
                manifest=data.manifest,
                train_texts=[r["text"] for r in data.train],
            )
        shutil.rmtree(work, ignore_errors=True)
    accelerator.wait_for_everyone()
    result.record, result.training = training, training.to_dict()
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
    elif config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
        model.get_output_embeddings().weight.requires_grad_(False)
    return model.train()


def _cosine(state: RunState, config: TrainConfig):
    """Linear warm-up then cosine decay to ``min_lr_ratio``; reads ``state.total_steps`` live so a
    time budget can shorten the schedule."""

    def factor(step: int) -> float:
        warmup = int(config.warmup_ratio * state.total_steps)
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, state.total_steps - warmup))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )

    return factor


def _fit_budget(state: RunState, config: TrainConfig, started: float) -> None:
    """With --max-minutes, shrink the planned steps once (after warm-up) to what fits the budget, so
    the schedule still ends at its low learning rate."""
    if not config.max_minutes or state.step != 6 or state.train_seconds <= 0:
        return
    left = config.max_minutes * 60 - (time.perf_counter() - started)
    per_step = state.train_seconds / state.step * 1.15  # + evaluation and checkpoint overhead
    state.total_steps = max(
        state.step + 1, min(state.total_steps, state.step + int(left / per_step))
    )


def _agree(accelerator, flag: bool) -> bool:
    """Same decision on every rank (wall clocks differ)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(
        accelerator.reduce(torch.tensor([float(flag)], device=accelerator.device), "max").item()
    )


@torch.no_grad()
def _evaluate(accelerator, net, batches, dtype) -> float:
    """Token-level mean loss over the whole validation split (each post scored as S text S)."""
    net.eval()
    inner = accelerator.unwrap_model(net)
    total = torch.zeros(2, dtype=torch.float64, device=accelerator.device)
    for ids, mask, labels in batches[accelerator.process_index :: accelerator.num_processes]:
        ids, mask, labels = (t.to(accelerator.device) for t in (ids, mask, labels))
        with torch.autocast(
            accelerator.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16
        ):
            loss = inner(ids, labels=labels, attention_mask=mask)
        n = int((labels[:, 1:] != -100).sum())
        total += torch.tensor([loss.item() * n, n], dtype=torch.float64, device=accelerator.device)
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total, "sum")
    return float(total[0] / total[1])
