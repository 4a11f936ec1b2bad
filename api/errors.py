"""Refusals a person reads: a console page in their language instead of FastAPI's JSON.

A browser navigating the console (``Accept: text/html``, not an HTMX swap, not ``/api/``) gets ``error.html``
with the same status code and headers; the detail is a msgid (``N_`` at the ``raise``) translated here. An HTMX
request gets FastAPI's JSON plus ``message``, the translated sentence ``common.js`` shows in the page's alert
banner (htmx swaps nothing on an error, so a refused click would otherwise show nothing). Integration clients
and the webhook keep FastAPI's JSON, whose ``detail`` stays the English msgid clients and tests match on.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from api.deps import is_console, is_htmx
from api.templating import N_, gettext_for, render

TITLES = {
    400: N_("This request could not be understood"),
    401: N_("Please log in"),
    403: N_("You are not allowed to do this"),
    404: N_("Not found"),
    405: N_("This page cannot be used this way"),
    409: N_("This was changed in the meantime"),
    413: N_("That is too large"),
    422: N_("Please check what you entered"),
    429: N_("Too many requests; please wait a moment"),
}
OTHER = N_("Something went wrong")
FORM_INCOMPLETE = N_("Part of the form was missing or not valid. Go back, reload the page and try again.")


def wants_page(request: Request) -> bool:
    """A person's browser navigating the console, not a script, an HTMX swap or the integration API."""
    return "text/html" in request.headers.get("accept", "") and not is_htmx(request) and is_console(request)


def _texts(request: Request, status_code: int, detail: str | None) -> tuple[str, str | None]:
    """The status's title and the detail, in the reader's language."""
    _ = gettext_for(request)
    return _(TITLES.get(status_code, OTHER)), _(detail) if detail else None


def error_page(request: Request, status_code: int, detail: str | None,
               headers: Mapping[str, str] | None = None) -> Response:
    title, text = _texts(request, status_code, detail)
    response = render(request, "error.html", status_code=status_code, status=status_code, title=title, detail=text)
    if headers:
        response.headers.update(headers)
    return response


def _with_message(request: Request, status_code: int, detail: str | None, body: dict[str, Any],
                  headers: Mapping[str, str] | None = None) -> Response:
    title, text = _texts(request, status_code, detail)
    return JSONResponse({**body, "message": text or title}, status_code=status_code, headers=headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _reason(exc.status_code) else None
    if wants_page(request):
        return error_page(request, exc.status_code, detail, exc.headers)
    if is_htmx(request) and is_console(request):
        return _with_message(request, exc.status_code, detail, {"detail": exc.detail}, exc.headers)
    return await http_exception_handler(request, exc)


async def on_invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_page(request):
        return error_page(request, 422, FORM_INCOMPLETE)
    if is_htmx(request) and is_console(request):
        return _with_message(request, 422, FORM_INCOMPLETE, {"detail": jsonable_encoder(exc.errors())})
    return await request_validation_exception_handler(request, exc)


def _reason(status_code: int) -> str:
    # Starlette's default detail ("Not Found", "Method Not Allowed"): the title says it already.
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
