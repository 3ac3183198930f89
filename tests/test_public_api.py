"""The public Python API is pinned, resolves to real objects, and stays torch-free on import."""

import subprocess
import sys

import tweettwin

EXPECTED = {
    "__version__", "open_source", "fetch", "prepare", "PrepareOptions", "load_dataset_dir",
    "TrainConfig", "train", "Twin", "make", "start_run", "list_runs", "lineage", "write_card",
    "push", "TweettwinError",
}


def test_all_is_pinned():
    assert set(tweettwin.__all__) == EXPECTED


def test_every_torch_free_name_resolves():
    for name in EXPECTED - {"__version__", "train", "Twin", "make"}:
        assert getattr(tweettwin, name) is not None, name


def test_ml_names_resolve_lazily():
    code = (
        "import sys, tweettwin; assert 'torch' not in sys.modules; "
        "tweettwin.TrainConfig; assert 'torch' not in sys.modules; "
        "tweettwin.train; tweettwin.Twin; tweettwin.make; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
