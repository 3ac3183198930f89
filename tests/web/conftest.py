"""Serve tests: a tiny twin trained offline (a few steps, CPU) and apps built around it."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("torch")

from tests.ml.conftest import (  # noqa: E402
    build_tiny_model,
    synthetic_posts,
    tiny_train_config,
    write_dataset,
)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture(scope="session")
def twin_dir(tmp_path_factory, tiny_base):
    """A tweettwin model folder (training.json, novelty index) from a few training steps."""
    from tweettwin.pipeline import train_step

    root = tmp_path_factory.mktemp("twin")
    write_dataset(root / "data", synthetic_posts())
    config = tiny_train_config(tiny_base, max_steps=4)
    train_step(root / "data", root / "tiny" / "model", config, workspace=root / "ws")
    return root / "tiny" / "model"


@pytest.fixture
def app(twin_dir, tmp_path):
    from tweettwin.web.app import create_app

    return create_app([twin_dir], workspace=tmp_path / "workspace")


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c
