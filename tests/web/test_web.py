"""The page's routes in process: upload -> dataset -> training job (events, cancel, resume,
restart) -> the new model in /v1/models, its card and preview picture."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tweettwin.web.app import create_app

ARCHIVE = Path(__file__).parents[2] / "examples" / "sample-archive.zip"


@pytest.fixture
def train_defaults(tiny_base):
    return {
        "base_model": str(tiny_base),
        "block_size": 64,
        "batch_size": 2,
        "learning_rate": 3e-3,
        "save_dtype": "float32",
    }


def _app(tmp_path, train_defaults):
    return create_app(workspace=tmp_path / "ws", train_defaults=train_defaults)


def _dataset(c) -> dict:
    up = c.post("/api/uploads?filename=archive.zip", content=ARCHIVE.read_bytes())
    assert up.status_code == 200, up.text
    r = c.post("/api/datasets", json={"upload_id": up.json()["upload_id"]})
    assert r.status_code == 200, r.text
    return r.json()


def _wait(c, job_id: str, until, timeout: float = 240) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        job = c.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job never got there: {job}")


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404


def test_upload_shows_authors_and_cleaned_posts(tmp_path, train_defaults):
    with TestClient(_app(tmp_path, train_defaults), base_url="http://127.0.0.1") as c:
        d = _dataset(c)
    (author,) = d["authors"]
    assert author["downloaded"] >= author["kept"] > 0
    assert author["train"] + author["validation"] == author["kept"] == d["train"] + d["validation"]
    assert len(d["posts"]) == 5 and all(isinstance(p, str) and p for p in d["posts"])
    assert (tmp_path / "ws" / d["dataset"] / "data" / "manifest.json").is_file()


def test_a_job_trains_reports_and_publishes_the_model(tmp_path, train_defaults):
    app = _app(tmp_path, train_defaults)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        d = _dataset(c)
        assert c.get("/api/jobs/current").status_code == 404
        job = c.post("/api/jobs", json={"dataset": d["dataset"], "max_steps": 3}).json()
        again = c.post("/api/jobs", json={"dataset": d["dataset"], "max_steps": 3})
        assert again.status_code == 409 or job["status"] != "running"
        done = _wait(c, job["id"], lambda j: j["status"] != "running")
        assert done["status"] == "completed", done
        steps = [e for e in done["events"] if e["kind"] == "step"]
        assert [e["step"] for e in steps] == [1, 2, 3]
        assert all(e["loss"] > 0 and e["tokens_per_s"] > 0 for e in steps)
        assert any(e["kind"] == "eval" for e in done["events"])
        stream = c.get(f"/api/jobs/{job['id']}/events").text  # replays, then ends
        assert stream.count('data: {"kind": "step"') == 3 and "event: end" in stream
        # events are numbered; a browser reconnecting with the last id it got gets the rest only
        ids = [int(line[4:]) for line in stream.splitlines() if line.startswith("id: ")]
        assert ids == list(range(len(done["events"])))
        url = f"/api/jobs/{job['id']}/events"
        rest = c.get(url, headers={"Last-Event-ID": str(ids[-3])}).text
        assert [line for line in rest.splitlines() if line.startswith("id: ")] == [
            f"id: {i}" for i in ids[-2:]
        ]
        assert "event: end" in rest
        for odd in ("999999", "not-a-number", "-5"):  # never hangs, never skips what it lacks
            again = c.get(url, headers={"Last-Event-ID": odd}).text
            assert "event: end" in again
        assert c.get(url, headers={"Last-Event-ID": "-5"}).text.count("id: ") == len(ids)
        # the job is a train run in the registry, and its model is served under its name
        from tweettwin.tracking import list_runs

        (run,) = list_runs(workspace=tmp_path / "ws", kind="train")
        assert run.status == "completed"
        models = [m["id"] for m in c.get("/v1/models").json()["data"]]
        assert models == [d["dataset"]]
        posts = c.post(
            "/v1/completions",
            json={
                "model": models[0],
                "prompt": "My dream is",
                "n": 10,
                "max_tokens": None,
                "echo": True,
            },
        )
        assert posts.status_code == 200 and len(posts.json()["choices"]) >= 1
        assert posts.json()["choices"][0]["text"].startswith("My dream is")
        card = c.get(f"/models/{models[0]}/card")
        assert card.status_code == 200 and "<h1>" in card.text and "---" not in card.text[:200]
        assert c.get(f"/models/{models[0]}/preview.png").status_code == 200
        r = c.post(f"/api/models/{models[0]}/preview", json={"text": "A new picture"})
        png = c.get(r.json()["url"])
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        assert c.get("/api/jobs/current").json()["id"] == job["id"]  # what a reload shows


def test_cancel_keeps_a_checkpoint_and_resume_continues(tmp_path, train_defaults):
    app = _app(tmp_path, train_defaults)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        d = _dataset(c)
        job = c.post("/api/jobs", json={"dataset": d["dataset"], "max_steps": 100000}).json()
        _wait(c, job["id"], lambda j: any(e["kind"] == "step" for e in j["events"]))
        assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
        stopped = _wait(c, job["id"], lambda j: j["status"] != "running")
        assert stopped["status"] == "interrupted" and stopped["resumable"], stopped
        last = max(e["step"] for e in stopped["events"] if e["kind"] == "step")
        assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 409
    # a new server on the same workspace still shows the job, and resumes it
    app = _app(tmp_path, train_defaults)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        (listed,) = c.get("/api/jobs").json()["data"]
        assert listed["id"] == job["id"] and listed["resumable"]
        resumed = c.post(f"/api/jobs/{job['id']}/resume").json()
        new = _wait(
            c,
            resumed["id"],
            lambda j: any(e["kind"] == "step" and e["step"] > last for e in j["events"]),
        )
        fresh = [e["step"] for e in new["events"] if e["kind"] == "step"]
        assert fresh[: fresh.index(last) + 1] == sorted(fresh[: fresh.index(last) + 1])
        assert last + 1 in fresh  # continued from the checkpoint, not from step 1 again
        c.post(f"/api/jobs/{resumed['id']}/cancel")
        _wait(c, resumed["id"], lambda j: j["status"] != "running")


def test_a_job_running_when_the_server_died_shows_as_interrupted(tmp_path, train_defaults):
    jobs = tmp_path / "ws" / "serve-jobs"
    jobs.mkdir(parents=True)
    record = {
        "id": "abc123",
        "dataset_dir": str(tmp_path / "ws/x/data"),
        "model_dir": str(tmp_path / "ws/x/model"),
        "name": "x",
        "config": {},
        "status": "running",
        "started_at": 1.0,
        "pid": 999999999,
        "events": [],
    }
    (jobs / "abc123.json").write_text(json.dumps(record))
    with TestClient(_app(tmp_path, train_defaults), base_url="http://127.0.0.1") as c:
        job = c.get("/api/jobs/current").json()
    assert job["status"] == "interrupted" and not job["resumable"]  # no checkpoint was written
    assert json.loads((jobs / "abc123.json").read_text())["status"] == "interrupted"


def test_page_errors_are_plain_words(client):
    r = client.post("/api/jobs", json={"dataset": "nobody"})
    assert r.status_code == 404 and "no dataset 'nobody'" in r.json()["error"]["message"]
    r = client.post("/api/datasets", json={})
    assert r.status_code == 400 and "upload" in r.json()["error"]["message"]
    r = client.post("/api/datasets", json={"handle": "justaword"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "handle"
    r = client.post("/api/uploads?filename=a.csv", content=b"not,a\ndataset")
    r = client.post("/api/datasets", json={"upload_id": r.json()["upload_id"]})
    assert r.status_code == 400 and "Traceback" not in r.text


def test_stopping_the_server_checkpoints_a_running_job(tmp_path, train_defaults):
    with TestClient(_app(tmp_path, train_defaults), base_url="http://127.0.0.1") as c:
        d = _dataset(c)
        job = c.post("/api/jobs", json={"dataset": d["dataset"], "max_steps": 100000}).json()
        _wait(c, job["id"], lambda j: any(e["kind"] == "step" for e in j["events"]))
    # leaving the block shut the app down: the job stopped at a step and kept a checkpoint
    with TestClient(_app(tmp_path, train_defaults), base_url="http://127.0.0.1") as c:
        again = c.get(f"/api/jobs/{job['id']}").json()
    assert again["status"] == "interrupted" and again["resumable"], again
    assert any(e["kind"] == "step" for e in again["events"])


@pytest.mark.parametrize(
    "typed, spec",
    [
        ("@odile@bakers.social", "mastodon:@odile@bakers.social"),
        ("odile@bakers.social", "mastodon:@odile@bakers.social"),
        ("odile.bsky.social", "bluesky:odile.bsky.social"),
        ("@odile.bsky.social", "bluesky:odile.bsky.social"),
        ("mastodon:@odile@bakers.social", "mastodon:@odile@bakers.social"),
    ],
)
def test_a_typed_handle_becomes_a_fetch_spec(typed, spec):
    from tweettwin.ingest.fetch import parse_spec
    from tweettwin.web.pages import _fetch_spec

    assert _fetch_spec(typed) == spec
    parse_spec(spec)  # and the fetcher accepts it


def test_a_typed_handle_is_fetched_and_read(tmp_path, train_defaults):
    from tests.fake_servers import FakeMastodon, quiet_client

    with FakeMastodon(statuses=250) as fake:
        options = {"api_base": fake.url, "client": quiet_client()}
        app = create_app(workspace=tmp_path / "ws", fetch_options=options)
        with TestClient(app, base_url="http://127.0.0.1") as c:
            r = c.post("/api/datasets", json={"handle": "@alice@social.example"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert [a["handle"] for a in d["authors"]] == ["alice@social.example"]
    assert d["authors"][0]["downloaded"] == 250 and d["posts"]
