"""Hub publishing, tested at the huggingface_hub boundary (no network): calls, dry run, errors."""

from __future__ import annotations

import json

import httpx2
import pytest
from click.testing import CliRunner
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from tests.test_card import make_model_dir
from tweettwin.cli import cli
from tweettwin.errors import ConfigError, NetworkError, OutputExistsError
from tweettwin.publish import hub

TOKEN = "hf_" + "s3cr3tT0k3n" * 3


@pytest.fixture
def model(tmp_path):
    folder = make_model_dir(tmp_path)
    (folder / "README.md").write_text("<!-- tweettwin:card -->\nold card\n")  # a stale card
    (folder / "checkpoint-40").mkdir()
    (folder / "checkpoint-40" / "optimizer.pt").write_bytes(b"x" * 100)
    (folder / ".model.safetensors.sha256").write_text("cache")
    (folder / ".README.md.abc.tmp").write_text("half-written")
    (folder / "preview.png").write_bytes(b"png")
    # what sampling reads besides the weights: the posts' word pieces and how posts start
    (folder / "post_vocab.json").write_text('{"format": "tweettwin-post-vocab"}')
    (folder / "post_starts.json").write_text('{"format": "tweettwin-post-starts"}')
    return folder


EXPECTED = [
    "README.md",
    "config.json",
    "dataset_manifest.json",
    "model.safetensors",
    "post_starts.json",
    "post_vocab.json",
    "preview.png",
    "training.json",
]


class FakeHub:
    """Records HfApi calls (self, name, args) in order; optionally raises."""

    def __init__(self, monkeypatch, fail: dict | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.readme_at_upload = None
        fail = fail or {}

        def create_repo(api, repo_id, **kwargs):
            self.calls.append(("create_repo", {"repo_id": repo_id, "token": api.token, **kwargs}))
            if "create_repo" in fail:
                raise fail["create_repo"]
            from huggingface_hub import RepoUrl

            return RepoUrl(f"https://huggingface.co/{repo_id}")

        def upload_folder(api, **kwargs):
            self.calls.append(("upload_folder", kwargs))
            if "upload_folder" in fail:
                raise fail["upload_folder"]
            from pathlib import Path

            self.readme_at_upload = (Path(kwargs["folder_path"]) / "README.md").read_text()
            return type(
                "Commit",
                (),
                {"commit_url": f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"},
            )()

        monkeypatch.setattr(HfApi, "create_repo", create_repo)
        monkeypatch.setattr(HfApi, "upload_folder", upload_folder)


def test_upload_plan_skips_checkpoints_hidden_and_temp_files(model):
    assert [p for p, _ in hub.upload_plan(model)] == EXPECTED
    assert dict(hub.upload_plan(model))["model.safetensors"] == len(b"weights")


def test_dry_run_sends_nothing_writes_nothing_needs_no_token(model, monkeypatch):
    fake = FakeHub(monkeypatch)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    result = hub.push(model, "me/ada-twin", dry_run=True)
    assert fake.calls == [] and result.dry_run and result.url is None
    assert [p for p, _ in result.files] == EXPECTED
    assert (model / "README.md").read_text() == "<!-- tweettwin:card -->\nold card\n"

    out = CliRunner().invoke(cli, ["push", str(model), "--repo-id", "me/ada-twin", "--dry-run"])
    assert out.exit_code == 0, out.output
    for name in EXPECTED:
        assert name in out.output
    assert (
        "checkpoint-40" not in out.output
        and "Would upload" in out.output
        and f"{len(EXPECTED)} files" in out.output
    )


def test_push_creates_repo_then_uploads_with_the_card_pointing_at_the_hub(model, monkeypatch):
    fake = FakeHub(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = hub.push(model, "me/ada-twin", private=True)
    assert [name for name, _ in fake.calls] == ["create_repo", "upload_folder"]
    create, upload = fake.calls[0][1], fake.calls[1][1]
    assert create == {
        "repo_id": "me/ada-twin",
        "token": TOKEN,
        "private": True,
        "exist_ok": True,
        "repo_type": "model",
    }
    assert upload["repo_id"] == "me/ada-twin" and upload["folder_path"] == str(model)
    assert upload["ignore_patterns"] == hub.IGNORE_PATTERNS
    assert 'model="me/ada-twin"' in fake.readme_at_upload  # card re-rendered before upload
    assert result.url == "https://huggingface.co/me/ada-twin" and result.card_updated
    assert result.commit_url.endswith("/commit/abc")


def test_saved_login_is_used_and_token_never_printed(model, monkeypatch):
    fake = FakeHub(monkeypatch)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: TOKEN)
    out = CliRunner().invoke(cli, ["push", str(model), "--repo-id", "me/ada-twin", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["url"] == "https://huggingface.co/me/ada-twin"
    assert fake.calls[0][1]["token"] == TOKEN
    assert TOKEN not in out.output and TOKEN not in (model / "README.md").read_text()


def test_no_token_says_how_to_log_in(model, monkeypatch):
    fake = FakeHub(monkeypatch)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(ConfigError, match="hf auth login.*HF_TOKEN"):
        hub.push(model, "me/ada-twin")
    assert fake.calls == []
    out = CliRunner().invoke(cli, ["push", str(model), "--repo-id", "me/ada-twin"])
    assert out.exit_code == 2 and "Error: no Hugging Face token" in out.output
    assert "Traceback" not in out.output


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ConnectError("[Errno -3] Temporary failure in name resolution"),
        OfflineModeIsEnabled("Cannot reach https://huggingface.co: offline mode is enabled."),
    ],
)
def test_no_network(model, monkeypatch, exc):
    FakeHub(monkeypatch, fail={"create_repo": exc})
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(NetworkError, match="cannot reach the Hugging Face Hub"):
        hub.push(model, "me/ada-twin")


def _http_error(status: int) -> HfHubHTTPError:
    response = httpx2.Response(
        status, request=httpx2.Request("POST", "https://huggingface.co/api/x")
    )
    return HfHubHTTPError(f"{status} Client Error (token {TOKEN})", response=response)


@pytest.mark.parametrize(
    "step,status", [("create_repo", 409), ("upload_folder", 403), ("create_repo", 403)]
)
def test_repo_of_someone_else(model, monkeypatch, step, status):
    FakeHub(monkeypatch, fail={step: _http_error(status)})
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(OutputExistsError, match="belongs to someone else") as info:
        hub.push(model, "someone/famous-model")
    assert TOKEN not in str(info.value) and "--repo-id" in str(info.value)
    out = CliRunner().invoke(cli, ["push", str(model), "--repo-id", "someone/famous-model"])
    assert out.exit_code == 2 and TOKEN not in out.output


def test_bad_repo_id_and_not_a_model_folder(model, tmp_path):
    with pytest.raises(ConfigError, match="--repo-id"):
        hub.push(model, "a/b/c", dry_run=True)
    out = CliRunner().invoke(cli, ["push", str(tmp_path), "--repo-id", "me/x", "--dry-run"])
    assert out.exit_code == 2 and "not a model folder" in out.output
