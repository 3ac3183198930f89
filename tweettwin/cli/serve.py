"""`tweettwin serve`: the page and an OpenAI-compatible API for the workspace's models."""

from __future__ import annotations

import json
import os

import click

from tweettwin.cli import cli

KEY_ENV = "TWEETTWIN_API_KEY"


@cli.command(name="serve")
@click.argument("model_dirs", metavar="[MODEL_DIR]...", nargs=-1, type=click.Path(file_okay=False))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but a loopback address needs --api-key.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    envvar=KEY_ENV,
    show_envvar=True,
    help="Key every request must send (Authorization: Bearer KEY); the page: /?key=KEY.",
)
@click.option(
    "--max-loaded",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Models kept in memory at once (least recently used ones are unloaded).",
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Generation requests waiting or running; more get 503 with Retry-After.",
)
@click.option(
    "--max-n",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Most posts per request.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Most new tokens per post.",
)
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--base-model", help="Base model for jobs started from the page [default: embedded].")
@click.option(
    "--get",
    "get_path",
    metavar="PATH",
    help="Answer one GET request for PATH in process, print it and exit (a smoke test).",
)
def serve_command(
    model_dirs,
    host,
    port,
    api_key,
    max_loaded,
    queue_size,
    max_n,
    max_tokens,
    max_upload_mb,
    base_model,
    get_path,
) -> None:
    """Serve the page and /v1 (OpenAI-compatible) for the workspace's models and MODEL_DIRs."""
    from tweettwin.errors import ConfigError, require

    require("fastapi", "tweettwin serve", "web")
    from tweettwin.web.app import Limits, create_app
    from tweettwin.web.security import is_local

    local = is_local(host)
    if not local and not api_key:
        raise ConfigError(
            f"--host {host} makes the server reachable from other machines: give --api-key "
            f"(or set {KEY_ENV})"
        )
    limits = Limits(
        max_n=max_n, max_tokens=max_tokens, max_upload=max_upload_mb * 2**20, queue_size=queue_size
    )
    defaults = {"base_model": base_model} if base_model else {}
    from tweettwin.cli import current_workspace

    app = create_app(
        list(model_dirs),
        workspace=current_workspace(),
        api_key=api_key,
        local_only=local,
        limits=limits,
        max_loaded=max_loaded,
        train_defaults=defaults,
    )
    if get_path:
        _get_once(app, get_path, api_key)
        return
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"Serving on http://{shown}:{port}/  (OpenAI base_url: http://{shown}:{port}/v1)", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("TWEETTWIN_LOG", "warning"))


def _get_once(app, path: str, api_key: str | None) -> None:
    from fastapi.testclient import TestClient

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get(path, headers=headers)
    try:
        click.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(response.text)
    if response.status_code >= 400:
        raise SystemExit(1)
