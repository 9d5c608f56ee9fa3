"""How the Uppy backend speaks HTTP beyond its routes: CORS for pages on other origins, and
every error as a JSON ``{"message"}`` answer with the status Uppy reads right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._exceptions import InvalidUploadError, S3RequestError, UploadError
from .._headers import check_origin
from ._input import Refused

_CLIENT_MISTAKES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


def cors(origins: Sequence[str]) -> list[Middleware]:
    if isinstance(origins, str):
        raise InvalidUploadError('cors_origins is a list: ["https://app.example"]')
    if not origins:
        return []
    wildcard = "*" in origins
    if wildcard and len(origins) > 1:
        raise InvalidUploadError('cors_origins: "*" allows every origin; list nothing beside it')
    for origin in origins:
        if origin != "*":
            check_origin(origin, "cors_origins")
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "authorization",
                "content-type",
                "accept",
                "uppy-auth-token",
                "uppy-credentials-params",
            ],
            # Cookies only go to origins named one by one: with "*", any site a signed-in
            # user visits could act for them.
            allow_credentials=not wildcard,
        )
    ]


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return JSONResponse({"message": exc.message}, status_code=exc.status)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidUploadError)
    return JSONResponse({"message": exc.message}, status_code=400)


async def _s3_refused(request: Request, exc: Exception) -> Response:
    """The client's own mistakes answer 4xx; anything else S3 refused is this backend's
    problem (its credentials, its bucket): 502 with the cause, never a 403 or 404 that Uppy
    would read as "not allowed"."""
    assert isinstance(exc, S3RequestError)
    if exc.code == "NoSuchUpload":
        return JSONResponse(
            {"message": "no such upload: it was completed or aborted already, or never existed"},
            status_code=404,
        )
    if exc.code in _CLIENT_MISTAKES:
        return JSONResponse({"message": exc.message}, status_code=400)
    cause = str(exc.diagnosis.cause) if exc.diagnosis else None
    return JSONResponse({"message": exc.message, "cause": cause}, status_code=502)


async def _failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UploadError)
    return JSONResponse({"message": exc.message}, status_code=502)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"message": "internal error"}, status_code=500)


ERROR_ANSWERS: dict[Any, Any] = {
    Refused: _refused,
    InvalidUploadError: _invalid,
    S3RequestError: _s3_refused,
    UploadError: _failed,
    HTTPException: _http_error,
    Exception: _internal_error,
}
"""Starlette's ``exception_handlers``: the most specific class of an error answers it."""
