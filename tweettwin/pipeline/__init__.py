"""The tracked pipeline steps every front end runs (``steps``); ``make_step`` chains them."""

from tweettwin.pipeline.steps import (
    eval_step,
    fetch_step,
    is_main_process,
    prepare_step,
    train_step,
)

__all__ = ["eval_step", "fetch_step", "is_main_process", "prepare_step", "train_step"]
