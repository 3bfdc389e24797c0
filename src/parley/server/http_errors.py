"""Errors as OpenAI's HTTP API writes them (``{"error": {message, type, code, param}}``), so
that its SDKs raise their own exceptions with Parley's message."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from parley.errors import AudioDecodeError, BackendError, ContextTooLongError, ParleyError

_CODE_OF_STATUS = {401: "invalid_api_key", 404: "not_found", 413: "request_too_large"}


def openai_error(
    status_code: int, message: str, code: str, error_type: str = "invalid_request_error"
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": error_type, "code": code, "param": None}},
        status_code=status_code,
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _CODE_OF_STATUS.get(error.status_code, "invalid_request")
    response = openai_error(error.status_code, str(error.detail), code)
    if error.headers:
        response.headers.update(error.headers)
    return response


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in item['loc'] if p != 'body')}: {item['msg']}"
        for item in error.errors()
    )
    return openai_error(400, f"Invalid request: {problems}", "invalid_request")


async def _parley_error(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, AudioDecodeError):
        return openai_error(400, str(error), "invalid_audio")
    if isinstance(error, ContextTooLongError):
        return openai_error(400, str(error), "context_length_exceeded")
    if isinstance(error, BackendError):
        return openai_error(502, str(error), "backend_error", "server_error")
    return openai_error(500, str(error), "server_error", "server_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ParleyError, _parley_error)
