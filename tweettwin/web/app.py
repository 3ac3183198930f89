"""The ASGI app: ``create_app(...)`` wires the page, the jobs API, ``/v1`` and one error shape.

    app = create_app(["tweettwin/odile_bakes/model"], workspace="tweettwin")
    uvicorn.run(app, host="127.0.0.1", port=8000)

Everything the routes share (model pool, work queue, limits, training jobs) is one
:class:`Server` on ``app.state.tweettwin``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI

from tweettwin import __version__
from tweettwin.web.errors import ApiError, install_handlers
from tweettwin.web.models import ModelPool, WorkQueue
from tweettwin.web.security import Guard, GuardMiddleware
from tweettwin.workspace import Workspace


@dataclass(frozen=True)
class Limits:
    max_n: int = 16  # posts per request (all prompts together)
    max_tokens: int = 256  # new tokens per post
    max_prompt_chars: int = 2000  # characters (or token ids) in one prompt
    max_prompts: int = 16
    max_upload: int = 200 * 2**20  # bytes
    queue_size: int = 8  # generation calls waiting or running; beyond: 503


@dataclass
class Server:
    workspace: Workspace
    pool: ModelPool
    queue: WorkQueue
    limits: Limits
    jobs: object = None  # tweettwin.web.jobs.Jobs
    train_defaults: dict = field(default_factory=dict)
    fetch_options: dict = field(default_factory=dict)  # for fetch_step: api_base, client...


def create_app(
    models: ModelPool | Sequence[str | os.PathLike] = (),
    *,
    workspace: Workspace | str | os.PathLike | None = None,
    api_key: str | None = None,
    local_only: bool = True,
    limits: Limits | None = None,
    max_loaded: int = 2,
    train_defaults: dict | None = None,
    fetch_options: dict | None = None,
) -> FastAPI:
    """The app for ``models`` (a ModelPool, or MODEL_DIRs besides the workspace's registry).

    ``local_only``: bound to a loopback address, so only Host headers naming localhost pass.
    Any other bind must give ``api_key`` (``tweettwin serve`` refuses to start without one).
    ``train_defaults``: TrainConfig fields for jobs started from the page (e.g. a base model).
    ``fetch_options``: options of ``fetch_step`` for handles typed in the page (``api_base`` for
    a mirror or a test server, ``client``).
    """
    from tweettwin.web import openai_api, pages
    from tweettwin.web.jobs import Jobs

    if not local_only and not api_key:
        raise ApiError(500, "a server reachable from other machines needs an API key")
    limits = limits or Limits()
    ws = Workspace.resolve(workspace)
    pool = models if isinstance(models, ModelPool) else ModelPool(ws, models, max_loaded=max_loaded)
    server = Server(ws, pool, WorkQueue(limits.queue_size), limits)
    server.train_defaults = dict(train_defaults or {})
    server.fetch_options = dict(fetch_options or {})
    server.jobs = Jobs(ws, server.train_defaults)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        server.queue.close()
        server.jobs.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="tweettwin",
        version=__version__,
        description="Write posts in someone's voice: a local page and an OpenAI-compatible API.",
    )
    app.state.tweettwin = server
    install_handlers(app)
    app.include_router(openai_api.router)
    app.include_router(pages.router)
    app.add_middleware(
        GuardMiddleware,
        guard=Guard(api_key=api_key, check_host=local_only, max_body=limits.max_upload),
    )

    app.openapi = lambda: openapi_schema(app)

    @app.get("/health", tags=["server"])
    async def health() -> dict:
        return {"status": "ok", "version": __version__}

    return app


def openapi_schema(app: FastAPI) -> dict:
    """FastAPI's schema, with its 422 ``{"detail"}`` answers replaced by the 400 this server
    really sends (OpenAI's error shape)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    error = {
        "description": "An error, in OpenAI's shape",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault("4XX", error)
            responses.setdefault("5XX", error)
    app.openapi_schema = schema
    return schema


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
