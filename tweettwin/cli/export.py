"""`tweettwin export DIR`: one GGUF file for llama.cpp, Ollama and LM Studio (offline)."""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli
from tweettwin.publish.export import DEFAULT_QUANT, FORMATS, QUANTS


@cli.command(name="export")
@click.argument("model_dir", metavar="MODEL_DIR", type=click.Path(file_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="gguf", show_default=True,
    help="File format (GGUF: llama.cpp, Ollama, LM Studio).",
)  # fmt: skip
@click.option(
    "--quant", type=click.Choice(QUANTS), default=DEFAULT_QUANT, show_default=True,
    help="Weight type: f16/bf16 keep the model as trained; q8_0 is about 2/3 of their size and "
    "near lossless; q4_0 about 1/3, with a clear loss on a small model.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False),
    help="Output file [default: MODEL_DIR/<name>-<quant>.gguf].",
)  # fmt: skip
@click.option(
    "--ollama", is_flag=True,
    help="Also write an Ollama Modelfile beside the GGUF and print the `ollama create` command.",
)  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "json_", is_flag=True, help="Print the result as JSON on stdout.")
def export_command(model_dir, fmt, quant, output, ollama, overwrite, json_) -> None:
    """Write the model in MODEL_DIR as one GGUF file, offline (no compiler, no download).

    The post separator is the file's bos/eos token, so a raw completion of a prompt reads like a
    new post and stops at its end; the twin's temperature and top-p go in as sampling defaults.
    """
    from tweettwin.publish.export import export_model

    with _status(json_, f"Writing {quant} GGUF…"):
        result = export_model(
            model_dir, fmt=fmt, quant=quant, output=output, overwrite=overwrite, ollama=ollama
        )
    if json_:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(str(result.path))
    click.echo(f"{result.bytes / 1e6:.1f} MB, {result.quant}, in {result.seconds:.1f} s", err=True)
    if result.modelfile:
        click.echo(f"Modelfile: {result.modelfile}\nChat with your twin in Ollama:", err=True)
        for command in result.ollama_commands:
            click.echo(f"  {command}", err=True)


def _status(quiet: bool, text: str):
    import contextlib

    from rich.console import Console

    return contextlib.nullcontext() if quiet else Console(stderr=True).status(text)
