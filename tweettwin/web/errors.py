"""Every error leaves the server in OpenAI's shape: ``{"error": {message, type, param, code}}``.

Validation errors, unknown routes, auth failures, a full queue and unexpected exceptions all go
through :func:`install_handlers`; FastAPI's ``{"detail": ...}`` never reaches a client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tweettwin.errors import TweettwinError

log = logging.getLogger("tweettwin.web")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "server_error",
    503: "server_busy",
}


class ApiError(Exception):
    """An error answered as ``status`` with OpenAI's error body (and optional headers)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type or _TYPES.get(status, "server_error")
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_exception(ex: BaseException) -> ApiError:
    """The ApiError for any exception: ours keep their words, others become a plain 500."""
    if isinstance(ex, ApiError):
        return ex
    if isinstance(ex, TweettwinError):
        return ApiError(ex.http_status, str(ex), code=type(ex).__name__)
    log.exception("unexpected error while serving a request")
    return ApiError(500, "The server hit an unexpected error; see its log for details.")


def _param(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def validation_error(errors: list[dict]) -> ApiError:
    """One 400 naming every bad or unsupported field (``param`` is the first of them)."""
    unsupported = [_param(e["loc"]) for e in errors if e.get("type") == "extra_forbidden"]
    others = [e for e in errors if e.get("type") != "extra_forbidden"]
    parts = []
    if unsupported:
        names = ", ".join(f"'{u}'" for u in unsupported)
        parts.append(
            f"unsupported field{'s' * (len(unsupported) > 1)} {names}: tweettwin does not "
            "implement {}, and says so rather than ignoring {}".format(
                *(("them", "them") if len(unsupported) > 1 else ("it", "it"))
            )
        )
    for e in others:
        where = _param(e["loc"])
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    first = unsupported[0] if unsupported else (_param(others[0]["loc"]) if others else None)
    code = "unsupported_parameter" if unsupported else "invalid_value"
    return ApiError(400, "; ".join(parts) or "invalid request", param=first, code=code)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, ex: RequestValidationError):
        return validation_error(list(ex.errors())).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, ex: StarletteHTTPException):
        if ex.status_code == 404:
            message = f"no such route: {request.method} {request.url.path}"
        elif ex.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(ex.detail)
        return ApiError(ex.status_code, message, headers=dict(ex.headers or {})).response()

    @app.exception_handler(ApiError)
    async def _api(request: Request, ex: ApiError):
        return ex.response()

    @app.exception_handler(TweettwinError)
    async def _ours(request: Request, ex: TweettwinError):
        return from_exception(ex).response()

    @app.exception_handler(Exception)
    async def _any(request: Request, ex: Exception):
        return from_exception(ex).response()
