"""API key on every route, Host allow-list on localhost, body caps, uploads kept inside."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tweettwin.web.app import Limits, create_app


@pytest.fixture
def keyed(twin_dir, tmp_path):
    app = create_app([twin_dir], workspace=tmp_path / "ws", api_key="s3cret", local_only=False)
    with TestClient(app, base_url="http://tweettwin.example") as c:
        yield c


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/"),
        ("GET", "/v1/models"),
        ("POST", "/v1/completions"),
        ("GET", "/api/jobs"),
        ("POST", "/api/uploads"),
        ("GET", "/models/tiny/card"),
        ("GET", "/static/app.js"),
        ("GET", "/openapi.json"),
        ("GET", "/no/such/route"),
    ],
)
def test_every_route_but_health_needs_the_key(keyed, method, path):
    r = keyed.request(method, path)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    wrong = keyed.request(method, path, headers={"Authorization": "Bearer s3cre"})
    assert wrong.status_code == 401
    assert "s3cret" not in r.text + wrong.text


def test_the_key_opens_the_api_and_the_page(keyed):
    assert keyed.get("/health").status_code == 200
    ok = keyed.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "tiny"
    assert keyed.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
    # a browser opens /?key=KEY once: a cookie, and the key leaves the address bar
    login = keyed.get("/?key=s3cret", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert "HttpOnly" in login.headers["set-cookie"]
    assert keyed.get("/").status_code == 200  # the client kept the cookie
    assert keyed.get("/v1/models").status_code == 200


def test_serve_refuses_a_public_bind_without_a_key(tmp_path):
    from click.testing import CliRunner

    from tweettwin.cli import cli

    out = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env={"TWEETTWIN_API_KEY": ""})
    assert out.exit_code == 2 and "--api-key" in out.output


def test_localhost_checks_the_host_header(client):
    for host in ("127.0.0.1:8000", "localhost", "localhost:1234", "[::1]:8000"):
        assert client.get("/health", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""):
        r = client.get("/v1/models", headers={"host": host})
        assert r.status_code == 403 and r.json()["error"]["code"] == "host_not_allowed", host


def test_localhost_refuses_other_sites_pages(client):
    evil = client.post("/api/uploads", content=b"x", headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "origin_not_allowed"
    ok = client.get("/v1/models", headers={"origin": "http://127.0.0.1:8000"})
    assert ok.status_code == 200


def test_uploads_are_capped_and_stored_under_random_names(twin_dir, tmp_path):
    app = create_app([twin_dir], workspace=tmp_path / "ws", limits=Limits(max_upload=1000))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.post("/api/uploads?filename=../../evil.zip", content=b"x" * 10)
        assert r.status_code == 200
        upload_id = r.json()["upload_id"]
        assert "evil" not in upload_id and "/" not in upload_id and upload_id.endswith(".zip")
        stored = list((tmp_path / "ws" / "uploads").iterdir())
        assert [p.name for p in stored] == [upload_id]
        big = c.post("/api/uploads?filename=a.zip", content=b"x" * 1001)
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"

        def chunks():  # no Content-Length: the stream itself is counted
            for _ in range(20):
                yield b"y" * 100

        streamed = c.post("/api/uploads?filename=b.csv", content=chunks())
        assert streamed.status_code == 413
        assert len(list((tmp_path / "ws" / "uploads").iterdir())) == 1  # partial files removed
        bad = c.post("/api/datasets", json={"upload_id": "../../etc/passwd"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "upload_id"
