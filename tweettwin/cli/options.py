"""Option groups that several commands share, declared once so `prepare`, `train` and `make`
accept the same flags with the same defaults and help, plus the builders that turn the parsed
flags into the library's option objects.

    @cleaning_options
    @training_options
    def command(**flags):
        options, config = prepare_options_from(flags), train_config_from(flags)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from tweettwin.ingest.options import SPLIT_METHODS, PrepareOptions
from tweettwin.train_config import METHODS, PRECISIONS, TrainConfig


def _group(*options: Callable) -> Callable:
    """One decorator applying ``options`` so they list in --help in the order given."""

    def apply(f: Callable) -> Callable:
        for option in reversed(options):
            f = option(f)
        return f

    return apply


# -- cleaning / split (prepare, make) -------------------------------------------------------

_p = PrepareOptions.help

cleaning_options = _group(
    click.option(
        "--keep-retweets", is_flag=True, help="Keep retweets/boosts (dropped by default)."
    ),
    click.option("--drop-replies", is_flag=True, help=_p("drop_replies")),
    click.option(
        "--keep-reply-mentions",
        is_flag=True,
        help="Keep the leading @mentions of replies (stripped by default).",
    ),
    click.option("--keep-links", is_flag=True, help="Keep links (removed by default)."),
    click.option("--keep-newlines", is_flag=True, help=_p("keep_newlines")),
    click.option(
        "--keep-entities", is_flag=True, help="Do not decode HTML entities or normalize Unicode."
    ),
    click.option(
        "--keep-duplicates", is_flag=True, help="Keep exact duplicate posts (dropped by default)."
    ),
    click.option(
        "--min-words",
        type=click.IntRange(min=0),
        default=PrepareOptions.min_words,
        show_default=True,
        help=_p("min_words"),
    ),
    click.option(
        "--split",
        type=click.Choice(SPLIT_METHODS),
        default=PrepareOptions.split,
        show_default=True,
        help=_p("split"),
    ),
    click.option(
        "--validation-fraction",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=PrepareOptions.validation_fraction,
        show_default=True,
        help=_p("validation_fraction"),
    ),
    click.option(
        "--min-chars",
        type=click.IntRange(min=0),
        default=PrepareOptions.min_chars,
        show_default=True,
        help=_p("min_chars"),
    ),
)


def prepare_options_from(flags: Mapping[str, Any]) -> PrepareOptions:
    """The ``PrepareOptions`` for the flags of :data:`cleaning_options` (the CLI says keep-X
    where the library says drop/remove-X, so every rule stays on by default)."""
    return PrepareOptions(
        drop_reposts=not flags["keep_retweets"],
        drop_replies=flags["drop_replies"],
        strip_reply_mentions=not flags["keep_reply_mentions"],
        remove_links=not flags["keep_links"],
        keep_newlines=flags["keep_newlines"],
        decode_entities=not flags["keep_entities"],
        drop_duplicates=not flags["keep_duplicates"],
        min_words=flags["min_words"],
        split=flags["split"],
        validation_fraction=flags["validation_fraction"],
        min_chars=flags["min_chars"],
    )


# -- SOURCEs fetched on the fly / read from files (prepare, make) ---------------------------

source_options = _group(
    click.option(
        "--text-column",
        help="Column (CSV) or key (JSON) that holds the post text [default: detected].",
    ),
    click.option(
        "--api-base",
        metavar="URL",
        help="For mastodon:/bluesky:/x: SOURCEs fetched on the fly: the API address "
        "(see tweettwin fetch --help).",
    ),
    click.option(
        "--limit",
        type=click.IntRange(min=1),
        metavar="N",
        help="For SOURCEs fetched on the fly: store at most N posts in this fetch pass.",
    ),
    click.option(
        "-y",
        "--yes",
        is_flag=True,
        help="For x: SOURCEs fetched on the fly: go ahead with a fetch above 100 billed reads.",
    ),
)


def source_options_from(flags: Mapping[str, Any]) -> dict[str, Any]:
    """``open_source`` options for the flags of :data:`source_options`."""
    return {
        "text_column": flags["text_column"],
        "api_base": flags["api_base"],
        "limit": flags["limit"],
        "yes": flags["yes"] or None,  # None: let the fetch ask / refuse as it would
    }


# -- training (train, make) -----------------------------------------------------------------

_t = TrainConfig.help
_TRAIN_KEYS = (
    "base_model",
    "method",
    "epochs",
    "max_steps",
    "max_minutes",
    "learning_rate",
    "batch_size",
    "block_size",
    "freeze_lower",
    "author_tags",
    "precision",
    "compile",
    "seed",
)


def _default(name: str) -> Any:
    return TrainConfig.__dataclass_fields__[name].default


training_options = _group(
    click.option(
        "--base-model", default=_default("base_model"), show_default=True, help=_t("base_model")
    ),
    click.option(
        "--method",
        type=click.Choice(METHODS),
        default=_default("method"),
        show_default=True,
        help=_t("method"),
    ),
    click.option(
        "--epochs",
        type=click.FloatRange(min=0, min_open=True),
        default=_default("epochs"),
        show_default=True,
        help=_t("epochs"),
    ),
    click.option("--max-steps", type=click.IntRange(min=1), help=_t("max_steps")),
    click.option(
        "--max-minutes", type=click.FloatRange(min=0, min_open=True), help=_t("max_minutes")
    ),
    click.option(
        "--lr",
        "learning_rate",
        type=click.FloatRange(min=0, min_open=True),
        help=_t("learning_rate"),
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=_default("batch_size"),
        show_default=True,
        help=_t("batch_size"),
    ),
    click.option(
        "--block-size",
        type=click.IntRange(min=8),
        default=_default("block_size"),
        show_default=True,
        help=_t("block_size"),
    ),
    click.option(
        "--freeze-lower",
        type=click.FloatRange(min=0, max=1, max_open=True),
        default=_default("freeze_lower"),
        show_default=True,
        help=_t("freeze_lower"),
    ),
    click.option("--author-tags", is_flag=True, help=_t("author_tags")),
    click.option(
        "--precision",
        type=click.Choice(PRECISIONS),
        default=_default("precision"),
        show_default=True,
        help=_t("precision"),
    ),
    click.option("--compile", is_flag=True, help=_t("compile")),
    click.option("--seed", type=int, default=_default("seed"), show_default=True, help=_t("seed")),
    click.option(
        "--report-to",
        multiple=True,
        metavar="NAME",
        help="Also send metrics to wandb, mlflow or tensorboard (repeatable or comma-separated).",
    ),
)


def train_config_from(flags: Mapping[str, Any], **overrides: Any) -> TrainConfig:
    """The ``TrainConfig`` for the flags of :data:`training_options` (unset ones keep the
    config's defaults, e.g. the method's learning rate); ``overrides`` win (resume, overwrite).
    ``--report-to`` is not training config: pass ``flags["report_to"]`` to the step."""
    chosen = {k: flags[k] for k in _TRAIN_KEYS if flags.get(k) is not None}
    return TrainConfig(**{**chosen, **overrides})
