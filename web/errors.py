"""Errors answered in the form that was asked for: JSON for the API, a fragment for htmx, else a page."""

from __future__ import annotations

from flask import Flask, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from recommender.model import UnknownItem
from recommender.store import InvalidInput
from web.extensions import wants_fragment


def _respond(status: int, title: str, message: str):
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), status
    template = "partials/error.html" if wants_fragment() else "error.html"
    return render_template(template, status=status, title=title, message=message), status


def with_error_headers(response: Response, error: HTTPException) -> Response:
    """Keep the headers the error itself carries (a 405's Allow, for one) on the answer rendered for it."""
    for name, value in error.get_headers():
        if name.lower() != "content-type" and name not in response.headers:
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(InvalidInput)
    def invalid_input(error: InvalidInput):
        """A write refused as a whole: every problem by index and field, nothing stored."""
        return jsonify({"errors": error.errors}), 422

    @app.errorhandler(UnknownItem)
    def unknown_item(error: UnknownItem):
        return _respond(404, "Item not found", f"{error}. Search for it by title, or check the link.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, NotFound) and error.description == NotFound.description:
            return _respond(404, "Page not found", "There is no page at this address.")
        answer = _respond(error.code or 500, error.name, error.description or error.name)
        return with_error_headers(make_response(answer), error)

    @app.errorhandler(UnicodeDecodeError)
    def undecodable(error: UnicodeDecodeError):
        return _respond(400, "Bad request", "The address or form is not valid UTF-8 text.")

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        app.logger.error("unhandled error on %s: %s", request.path, error.original_exception)
        return _respond(500, "Something went wrong", "The error is logged; please try again in a moment.")
