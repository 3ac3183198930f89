"""`tweettwin export`, the parts checked before any weight is read (no torch needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tweettwin.cli import cli
from tweettwin.errors import ConfigError, ModelError, OutputExistsError
from tweettwin.publish.export import (
    Sampling,
    check_architecture,
    export_model,
    ollama_commands,
    render_modelfile,
    twin_name,
)


def _folder(tmp_path, arch="LlamaForCausalLM", **config):
    folder = tmp_path / "odile_bakes" / "model"
    folder.mkdir(parents=True)
    body = {"architectures": [arch], "model_type": "llama"} | config
    (folder / "config.json").write_text(json.dumps(body))
    return folder


def test_unsupported_architecture_error_names_the_supported_ones(tmp_path):
    folder = _folder(tmp_path, "GPT2LMHeadModel")
    with pytest.raises(ModelError, match=r"GPT2LMHeadModel cannot .* supported: LlamaForCausalLM"):
        export_model(folder)
    result = CliRunner().invoke(cli, ["export", str(folder)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1


def test_rope_scaling_is_refused_not_silently_dropped(tmp_path):
    folder = _folder(tmp_path, rope_parameters={"rope_type": "llama3", "factor": 8.0})
    with pytest.raises(ModelError, match="rope scaling 'llama3'"):
        check_architecture(folder)


def test_existing_output_is_refused_without_overwrite(tmp_path):
    folder = _folder(tmp_path)
    out = tmp_path / "me.gguf"
    out.write_bytes(b"kept")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_model(folder, output=out)
    (folder / "odile_bakes-q8_0.gguf").write_bytes(b"kept")
    with pytest.raises(OutputExistsError, match="odile_bakes-q8_0.gguf already exists"):
        export_model(folder)  # the default name, beside the weights
    assert out.read_bytes() == b"kept"


def test_existing_modelfile_is_refused_too(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "Modelfile").write_text("FROM ./mine.gguf\n")
    with pytest.raises(OutputExistsError, match="Modelfile already exists"):
        export_model(folder, output=tmp_path / "new.gguf", ollama=True)


def test_bad_format_and_quant_are_config_errors(tmp_path):
    folder = _folder(tmp_path)
    with pytest.raises(ConfigError, match="choose one of f16, bf16, q8_0, q4_0"):
        export_model(folder, quant="q3_k")
    with pytest.raises(ConfigError, match="--format onnx"):
        export_model(folder, fmt="onnx")
    result = CliRunner().invoke(cli, ["export", str(folder), "--quant", "q2"])
    assert result.exit_code == 2


def test_twin_name_comes_from_the_folder(tmp_path):
    assert twin_name(tmp_path / "Odile Bakes" / "model") == "odile-bakes"
    assert twin_name(tmp_path / "my_twin.v2") == "my_twin.v2"


def test_modelfile_is_raw_completion_with_the_separator_as_stop(tmp_path):
    sampling = Sampling(temperature=0.8, top_p=0.9, top_k=40, max_new_tokens=72, min_p=0.05)
    text = render_modelfile(tmp_path / "odile-q8_0.gguf", "<|endoftext|>", sampling)
    assert text.splitlines() == [
        "FROM ./odile-q8_0.gguf",
        'TEMPLATE """{{ .Prompt }}"""',
        'PARAMETER stop "<|endoftext|>"',
        "PARAMETER temperature 0.8",
        "PARAMETER top_p 0.9",
        "PARAMETER top_k 40",
        "PARAMETER min_p 0.05",
        "PARAMETER num_predict 72",
    ]
    assert 'stop "a\\"b"' in render_modelfile(tmp_path / "x.gguf", 'a"b', sampling)
    assert ollama_commands("odile", tmp_path / "Modelfile")[0] == (
        f'ollama create odile -f "{tmp_path / "Modelfile"}"'
    )


def test_sampling_defaults_read_like_the_twin_reads_them():
    tweettwin_saved = {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 50,
                       "max_new_tokens": 88}  # fmt: skip
    assert Sampling.from_generation_config(tweettwin_saved) == Sampling(0.7, 0.9, 50, 88)
    with_min_p = Sampling.from_generation_config(tweettwin_saved | {"min_p": 0.05})
    assert with_min_p == Sampling(0.7, 0.9, 50, 88, min_p=0.05)
    assert Sampling.from_generation_config({}).temperature == 0.0  # transformers: greedy


def test_export_module_and_command_stay_torch_free():
    code = (
        "import sys, tweettwin.publish.export, tweettwin.cli.export; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
