"""The page and the routes behind it: uploads, datasets, training jobs (SSE), model cards.

The page (``static/``: one HTML file, a script and a style sheet; no build step) calls these
routes and ``/v1/completions`` for its posts. Uploads are stored under random names in
``<workspace>/uploads/``; the archive readers never extract members to disk.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tweettwin.web.errors import ApiError

router = APIRouter()
UPLOADS = "uploads"
SUFFIXES = {".zip", ".csv", ".json", ".jsonl", ".js", ".txt", ".tsv"}
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}(\.[a-z]{2,5})?$")
_NAME = re.compile(r"^[\w.@+-]{1,120}$")


def _server(request: Request):
    return request.app.state.tweettwin


def _static(name: str) -> bytes:
    return resources.files("tweettwin.web").joinpath("static", name).read_bytes()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(_static("index.html"))


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    kinds = {"app.js": "text/javascript", "style.css": "text/css"}
    if name not in kinds:
        raise ApiError(404, f"no such file: {name}")
    return Response(_static(name), media_type=kinds[name], headers={"Cache-Control": "no-cache"})


# ------------------------------------------------------------------------------- uploads


@router.post("/api/uploads", tags=["page"])
async def upload(request: Request, filename: str = "upload.zip") -> dict:
    """The request body is the file (an X archive zip, a Mastodon export, a CSV/JSON file)."""
    server = _server(request)
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix in SUFFIXES else ""
    folder = server.workspace.root / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    upload_id = secrets.token_hex(16) + suffix
    path, size, cap = folder / upload_id, 0, server.limits.max_upload
    try:
        with open(path, "xb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise ApiError(
                        413,
                        f"the file is over the {cap // 2**20} MB upload limit",
                        code="payload_too_large",
                    )
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ApiError(400, "the upload is empty: choose a file", param="file")
    return {"upload_id": upload_id, "bytes": size}


# ------------------------------------------------------------------------------ datasets


class DatasetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upload_id: str | None = Field(None, max_length=40)
    handle: str | None = Field(None, max_length=200)


def _fetch_spec(handle: str) -> str:
    h = handle.strip()
    if ":" in h.split("@")[0]:
        return h  # already mastodon:@user@host / bluesky:name
    if h.count("@") >= 1 and "." in h.rsplit("@", 1)[-1] and h.lstrip("@").count("@") == 1:
        return f"mastodon:@{h.lstrip('@')}"
    if "." in h:
        return f"bluesky:{h.lstrip('@')}"
    raise ApiError(
        400,
        f"{handle!r} is not a handle I can fetch: type @user@instance.social "
        "(Mastodon) or name.bsky.social (Bluesky)",
        param="handle",
    )


def _prepare(server, body: DatasetRequest) -> dict:
    from tweettwin.pipeline import fetch_step, prepare_step

    if body.upload_id:
        if not _UPLOAD_ID.match(body.upload_id):
            raise ApiError(400, "unknown upload id", param="upload_id")
        source = server.workspace.root / UPLOADS / body.upload_id
        if not source.is_file():
            raise ApiError(404, "that upload is gone: upload the file again", param="upload_id")
    elif body.handle:
        spec = _fetch_spec(body.handle)
        source = fetch_step(spec, workspace=server.workspace, **server.fetch_options).output
    else:
        raise ApiError(400, "choose a file to upload or type a handle", param="upload_id")
    result = prepare_step([source], workspace=server.workspace)
    return _dataset_view(server, result.output, result.to_json())


def _dataset_view(server, dataset_dir: Path, summary: dict) -> dict:
    posts = []
    with open(Path(dataset_dir) / "train.jsonl", encoding="utf-8") as fh:
        for line in fh:
            posts.append(json.loads(line)["text"])
            if len(posts) == 5:
                break
    keep = (
        "handle",
        "name",
        "downloaded",
        "retweets",
        "replies",
        "short",
        "duplicates",
        "kept",
        "train",
        "validation",
    )
    return {
        "dataset": Path(dataset_dir).parent.name,
        "authors": [{k: a.get(k) for k in keep} for a in summary["authors"]],
        "train": summary["train"],
        "validation": summary["validation"],
        "warnings": summary.get("warnings", []),
        "posts": posts,
    }


@router.post("/api/datasets", tags=["page"])
async def make_dataset(body: DatasetRequest, request: Request) -> dict:
    return await run_in_threadpool(_prepare, _server(request), body)


def _dataset_dir(server, name: str) -> Path:
    if not _NAME.match(name) or name.startswith("."):
        raise ApiError(
            400, "a dataset name has letters, digits and . _ @ + - only", param="dataset"
        )
    path = server.workspace.handle_dir(name) / "data"
    if not (path / "manifest.json").is_file():
        raise ApiError(404, f"no dataset {name!r} in the workspace", param="dataset")
    return path


# ---------------------------------------------------------------------------------- jobs


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str = Field(min_length=1, max_length=120)
    max_minutes: float | None = Field(None, gt=0, le=24 * 60)
    max_steps: int | None = Field(None, gt=0, le=1_000_000)
    epochs: float | None = Field(None, gt=0, le=100)


@router.post("/api/jobs", tags=["page"])
async def start_job(body: JobRequest, request: Request) -> dict:
    server = _server(request)
    options = body.model_dump(exclude={"dataset"}, exclude_none=True)
    job = server.jobs.start(_dataset_dir(server, body.dataset), options)
    return job.to_dict()


@router.get("/api/jobs", tags=["page"])
async def list_jobs(request: Request) -> dict:
    return {"data": [j.to_dict() for j in _server(request).jobs.all()]}


@router.get("/api/jobs/{job_id}", tags=["page"])
async def get_job(job_id: str, request: Request) -> dict:
    return _server(request).jobs.get(job_id).to_dict(events=True)


@router.post("/api/jobs/{job_id}/cancel", tags=["page"])
async def cancel_job(job_id: str, request: Request) -> dict:
    return _server(request).jobs.cancel(job_id).to_dict()


@router.post("/api/jobs/{job_id}/resume", tags=["page"])
async def resume_job(job_id: str, request: Request) -> dict:
    return _server(request).jobs.resume(job_id).to_dict()


def _resume_from(last_event_id: str | None) -> int:
    """The index of the first event to send: after ``Last-Event-ID`` (a browser reconnecting
    sends the id of the last event it got), else 0."""
    try:
        return max(0, int(last_event_id) + 1) if last_event_id else 0
    except ValueError:
        return 0


@router.get("/api/jobs/{job_id}/events", tags=["page"])
async def job_events(job_id: str, request: Request) -> StreamingResponse:
    """Server-sent events: every event so far, then new ones until the job ends. Each carries
    its index as its ``id``, so a reconnecting browser resumes after the last one it got
    instead of drawing the chart twice."""
    job = _server(request).jobs.get(job_id)

    async def stream():
        sent = min(_resume_from(request.headers.get("last-event-id")), len(job.events))
        while True:
            events = job.events
            for i, event in enumerate(events[sent:], start=sent):
                yield f"id: {i}\ndata: {json.dumps(event)}\n\n"
            sent = max(sent, len(events))
            if job.status != "running" and sent >= len(job.events):
                yield "event: end\ndata: {}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


# -------------------------------------------------------------------------------- models


def _model(server, name: str):
    return server.pool.entry(name)


@router.get("/api/models", tags=["page"])
async def models(request: Request) -> dict:
    from tweettwin.model_folder import read_json

    out = []
    for entry in _server(request).pool.catalog().values():
        samples = read_json(entry.path / "samples.json", missing_ok=True) or {}
        out.append(
            {
                "id": entry.id,
                "created": entry.created,
                "has_preview": (entry.path / "preview.png").is_file(),
                "samples": samples.get("samples", [])[:3],
            }
        )
    return {"data": out}


@router.get("/models/{name}/card", response_class=HTMLResponse, tags=["page"])
async def model_card(name: str, request: Request) -> HTMLResponse:
    from tweettwin.web.card_html import card_page

    entry = _model(_server(request), name)
    return HTMLResponse(await run_in_threadpool(card_page, entry.id, entry.path))


@router.get("/models/{name}/preview.png", tags=["page"])
async def preview_png(name: str, request: Request) -> FileResponse:
    path = _model(_server(request), name).path / "preview.png"
    if not path.is_file():
        raise ApiError(404, f"model {name!r} has no preview picture yet")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1000)


@router.post("/api/models/{name}/preview", tags=["page"])
async def make_preview(name: str, body: PreviewRequest, request: Request) -> dict:
    from tweettwin.publish.preview import render_preview_for_model

    entry = _model(_server(request), name)
    await run_in_threadpool(
        render_preview_for_model, entry.path, body.text, workspace=_server(request).workspace
    )
    return {"url": f"/models/{entry.id}/preview.png"}
