"""The admin JSON API: the admin page's actions for scripts, with a Bearer token and no cookies."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest

from recommender.catalog.load import CatalogError
from recommender.limits import ADMIN_BODY_MAX_BYTES
from web.auth import admin_api
from web.services import admin_actions
from web.views.common import json_body

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")
FLAG_TEXTS = {"": False, "false": False, "0": False, "no": False, "off": False,
              "true": True, "1": True, "yes": True, "on": True}


@bp.post("/rebuild")
@admin_api
def rebuild():
    job_id, joined = admin_actions.request_rebuild()
    return jsonify({"job_id": job_id, "coalesced": joined}), 202


@bp.post("/catalog")
@admin_api
def catalog():
    try:
        job_id = admin_actions.upload_catalog(request.files.get("items"), request.files.get("interactions"),
                                              request.form.get("mode", "replace"),
                                              form_flag("clear_events"))
    except CatalogError as exc:
        return jsonify({"errors": [p.as_dict() | {"text": str(p)} for p in exc.problems]}), 422
    return jsonify({"job_id": job_id}), 202


def form_flag(name: str) -> bool:
    """A true/false multipart field (absent: false), else 400 naming it."""
    value = request.form.get(name, "").strip().lower()
    if value not in FLAG_TEXTS:
        raise BadRequest(f"{name} must be true or false, got {value[:20]!r}")
    return FLAG_TEXTS[value]


@bp.get("/jobs/<job_id>")
@admin_api
def job(job_id: str):
    return jsonify(admin_actions.job(job_id).as_dict())


@bp.get("/index")
@admin_api
def index():
    return jsonify(admin_actions.index_summary())


def version_from_body() -> str:
    """The `version` of a JSON body {"version": "<a kept version>"}, else 400."""
    body = json_body(ADMIN_BODY_MAX_BYTES, '{"version": "<a kept version>"}')
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version:
        raise BadRequest('Send JSON {"version": "<a kept version>"}.')
    return version


@bp.post("/index/rollback")
@admin_api
def rollback():
    version = version_from_body()
    job_id = admin_actions.request_rollback(version)
    job = admin_actions.wait_for_rollback(job_id)
    state = job.state if job else "PENDING"
    if state == "FAILURE":
        return jsonify({"job_id": job_id, "version": version, "state": state, "error": job.error}), 409
    return jsonify({"job_id": job_id, "version": version, "state": state}), 200 if state == "SUCCESS" else 202


@bp.post("/index/restore-catalog")
@admin_api
def restore_catalog():
    version = version_from_body()
    return jsonify({"job_id": admin_actions.request_catalog_restore(version), "version": version}), 202
