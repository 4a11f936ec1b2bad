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

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

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


def _console(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def wants_page(request: Request) -> bool:
    """A person's browser navigating the console, not a script, an HTMX swap or the integration API."""
    return ("text/html" in request.headers.get("accept", "") and not request.headers.get("hx-request")
            and _console(request))


def _htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request")) and _console(request)


def _sentence(request: Request, status_code: int, detail: str | None) -> str:
    _ = gettext_for(request)
    return _(detail) if detail else _(TITLES.get(status_code, OTHER))


def error_page(request: Request, status_code: int, detail: str | None,
               headers: Mapping[str, str] | None = None) -> Response:
    _ = gettext_for(request)
    response = render(request, "error.html", status_code=status_code, status=status_code,
                      title=_(TITLES.get(status_code, OTHER)), detail=_(detail) if detail else None)
    if headers:
        response.headers.update(headers)
    return response


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _reason(exc.status_code) else None
    if wants_page(request):
        return error_page(request, exc.status_code, detail, exc.headers)
    if _htmx(request):
        return JSONResponse({"detail": exc.detail, "message": _sentence(request, exc.status_code, detail)},
                            status_code=exc.status_code, headers=exc.headers)
    return await http_exception_handler(request, exc)


async def on_invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_page(request):
        return error_page(request, 422, FORM_INCOMPLETE)
    if _htmx(request):
        return JSONResponse({"detail": jsonable_encoder(exc.errors()),
                             "message": _sentence(request, 422, FORM_INCOMPLETE)}, status_code=422)
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
