"""The public Python API is pinned, resolves to real objects, and stays torch-free on import."""

import subprocess
import sys

import tweettwin

EXPECTED = {
    "__version__",
    "open_source",
    "fetch",
    "prepare",
    "PrepareOptions",
    "load_dataset_dir",
    "TrainConfig",
    "train",
    "Twin",
    "GenerateOptions",
    "make",
    "start_run",
    "list_runs",
    "lineage",
    "write_card",
    "push",
    "export_model",
    "TweettwinError",
    "Workspace",
    "evaluate_model",
}


def test_all_is_pinned():
    assert set(tweettwin.__all__) == EXPECTED


def test_every_torch_free_name_resolves():
    for name in EXPECTED - {"__version__", "train", "Twin", "make"}:
        assert getattr(tweettwin, name) is not None, name


def test_ml_names_resolve_lazily():
    code = (
        "import sys, tweettwin; assert 'torch' not in sys.modules; "
        "tweettwin.TrainConfig; tweettwin.GenerateOptions; import tweettwin.testing; "
        "assert 'torch' not in sys.modules; "
        "tweettwin.train; tweettwin.Twin; tweettwin.make; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_without_the_ml_extra_ml_names_and_commands_say_what_to_install(tmp_path):
    # torch "not installed": a None entry in sys.modules makes `import torch` fail
    block = "import sys; sys.modules['torch'] = None; "
    api = subprocess.run(
        [sys.executable, "-c", block + "import tweettwin; tweettwin.Twin"],
        capture_output=True,
        text=True,
    )
    assert "needs the 'ml' extra: pip install 'tweettwin[ml]'" in api.stderr
    cli = subprocess.run(
        [sys.executable, "-c", block + "from tweettwin.cli import main; main()", "generate",
         str(tmp_path), "-n", "1"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert cli.stderr.strip().splitlines()[-1] == (
        "Error: Generating posts needs the 'ml' extra: pip install 'tweettwin[ml]'"
    )


def test_step_names_are_not_shadowed_by_submodules():
    # a submodule named like a public function (tweettwin/prepare.py, tweettwin/fetch/) would
    # replace the function on the package as soon as anything imported it
    import pkgutil

    for info in pkgutil.walk_packages(tweettwin.__path__, "tweettwin."):
        skip = ("tweettwin.ml", "tweettwin.web", "tweettwin.evaluate", "tweettwin.__main__")
        if not info.name.startswith(skip):
            __import__(info.name)
    for name in ("fetch", "prepare", "train", "make", "push", "lineage", "write_card"):
        assert callable(getattr(tweettwin, name)), name
