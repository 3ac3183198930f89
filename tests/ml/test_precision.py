"""The compute dtype is chosen by measurement (cached per machine), overridable, never assumed."""

from __future__ import annotations

import json

import pytest

from tweettwin.errors import ConfigError
from tweettwin.ml import precision
from tweettwin.ml.precision import Peaks

torch = pytest.importorskip("torch")

AVX2 = Peaks(fp32_train=107.0, bf16_train=2.3, fp32_decode=20.0, bf16_decode=1.1)
AMX = Peaks(fp32_train=150.0, bf16_train=600.0, fp32_decode=25.0, bf16_decode=45.0)


@pytest.fixture
def fake_machine(monkeypatch, tmp_path):
    """A machine whose measurement returns the given peaks, counting how often it is measured."""
    monkeypatch.setenv("TWEETTWIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    calls = []

    def use(peaks: Peaks, key: str = "machine-a"):
        monkeypatch.setattr(precision, "measure", lambda: calls.append(1) or peaks)
        monkeypatch.setattr(precision, "machine_key", lambda: key)
        return calls

    return use


def test_emulated_bf16_is_never_chosen(fake_machine):
    fake_machine(AVX2)
    assert precision.choose(kind="train") == "fp32"
    assert precision.choose(kind="decode") == "fp32"


def test_native_bf16_is_chosen_where_it_measures_faster(fake_machine):
    fake_machine(AMX)
    assert precision.choose(kind="train") == "bf16"
    assert precision.choose(kind="decode") == "bf16"


def test_a_tie_keeps_fp32(fake_machine):
    fake_machine(Peaks(100.0, 105.0, 20.0, 21.0))
    assert precision.choose() == "fp32"


def test_measured_once_per_machine_and_cached(fake_machine, tmp_path):
    calls = fake_machine(AVX2)
    for _ in range(3):
        precision.choose()
    assert len(calls) == 1
    cached = json.loads((tmp_path / "cache" / "precision.json").read_text())
    assert cached["machine-a"]["bf16_train"] == 2.3
    fake_machine(AMX, key="machine-b")  # another CPU (or torch build) measures again
    assert precision.choose() == "bf16" and len(calls) == 2


def test_a_corrupt_cache_is_measured_again(fake_machine, tmp_path):
    calls = fake_machine(AMX)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "precision.json").write_text("{not json")
    assert precision.choose() == "bf16" and len(calls) == 1


def test_explicit_and_environment_overrides(fake_machine, monkeypatch):
    calls = fake_machine(AVX2)
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    assert precision.choose() == "bf16"
    assert precision.choose("fp32") == "fp32"  # the flag beats the environment
    monkeypatch.setenv(precision.PRECISION_ENV, "fast")
    with pytest.raises(ConfigError, match="TWEETTWIN_PRECISION"):
        precision.choose()
    assert calls == []  # an override needs no measurement


def test_real_measurement_is_sane():
    peaks = precision.measure()
    assert all(v > 0 for v in (peaks.fp32_train, peaks.bf16_train, peaks.fp32_decode))


def test_decoding_is_measured_on_the_samplers_own_kernels(monkeypatch):
    """A plain bf16 matmul at 10 rows ran no faster than fp32 on an AMX Xeon while the sampler's
    packed bf16 ran 2x faster than its fp16 weights: the choice must time what sampling runs."""
    from tweettwin.ml import linear
    from tweettwin.ml.sampler import weight_layout

    timed = []
    real = linear.make_linear
    monkeypatch.setattr(
        linear, "make_linear", lambda w, lay, dt: timed.append((lay, dt)) or real(w, lay, dt)
    )
    precision.measure()
    assert timed == [
        (weight_layout(torch.float32, quantize=True), torch.float32),  # the fp32 default: fp16
        (weight_layout(torch.bfloat16, quantize=False), torch.bfloat16),
    ]


def test_twin_load_computes_in_the_chosen_dtype(fake_machine, tiny_model_dir):
    from tweettwin.ml.twin import Twin

    fake_machine(AVX2)
    twin = Twin.load(tiny_model_dir, quantize=False)  # the exact path (fp16 weights: fp32)
    assert next(twin.model.parameters()).dtype == torch.float32
    assert twin.sampler.lean.dtype == torch.float32
    fake_machine(AMX, key="machine-b")
    assert Twin.load(tiny_model_dir, quantize=False).sampler.lean.dtype == torch.bfloat16


def test_cpu_name_carries_family_and_model(tmp_path):
    """VMs name every EPYC generation "AMD EPYC": the record and the cache key need the family
    and model (Zen 2 is family 23) to tell the CPU classes apart."""
    from tweettwin.ml.env import cpu_model

    block = "processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: {f}\nmodel\t\t: 49\n"
    block += "model name\t: AMD EPYC\nflags\t\t: fpu avx2\n\n"
    info = tmp_path / "cpuinfo"
    info.write_text(block.format(n=0, f=23) + block.format(n=1, f=99), encoding="utf-8")
    assert cpu_model(str(info)) == "AMD EPYC (family 23 model 49)"
    info.write_text("processor\t: 0\nmodel name\t: Some ARM core\n", encoding="utf-8")
    assert cpu_model(str(info)) == "Some ARM core"
