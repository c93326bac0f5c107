"""The admin JSON API: the admin page's actions for scripts, with a Bearer token and no cookies."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest

from recommender.catalog.load import CatalogError
from web.auth import admin_api
from web.services import admin_actions
from web.views.common import admin_json_object

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
    version = admin_json_object('{"version": "<a kept version>"}').get("version")
    if not isinstance(version, str) or not version:
        raise BadRequest('Send JSON {"version": "<a kept version>"}.')
    return version


def _switched(version: str, job_id: str):
    """Wait briefly for a rollback or publish job: 200 done (once every web process serves it: `served`),
    202 still queued, 409 refused."""
    job = admin_actions.wait_for_rollback(job_id)
    state = job.state if job else "PENDING"
    if state == "FAILURE":
        return jsonify({"job_id": job_id, "version": version, "state": state, "error": job.error}), 409
    if state != "SUCCESS":
        return jsonify({"job_id": job_id, "version": version, "state": state}), 202
    served = admin_actions.served_everywhere(version)
    return jsonify({"job_id": job_id, "version": version, "state": state, "served": served}), 200


@bp.post("/index/rollback")
@admin_api
def rollback():
    """{"version": "...", "restore_rules": true} also puts the rules back as they were when it was built."""
    version = version_from_body()
    restore_rules = admin_json_object('{"version": "..."}').get("restore_rules", False)
    if not isinstance(restore_rules, bool):
        raise BadRequest("restore_rules must be true or false")
    return _switched(version, admin_actions.request_rollback(version, restore_rules=restore_rules))


@bp.post("/index/publish")
@admin_api
def publish():
    """Publish a kept build by hand: one the pin kept waiting, or one the quality gate held back."""
    version = version_from_body()
    answer, status = _switched(version, admin_actions.request_publish(version))
    if warning := admin_actions.held_back_reason(version):
        answer = jsonify(answer.get_json() | {"warning": f"published although held back: {warning}"})
    return answer, status


@bp.post("/index/pin")
@admin_api
def pin():
    """Pin the served version; the body {"why": "..."} is optional."""
    why = admin_json_object('{"why": "..."}').get("why") if request.content_length else None
    return jsonify({"pinned": admin_actions.pin(why)})


@bp.delete("/index/pin")
@admin_api
def unpin():
    admin_actions.unpin()
    return jsonify({"pinned": None})


@bp.patch("/index/versions/<version>")
@admin_api
def label_version(version: str):
    """{"label": "..."} labels a kept version (null or "" removes the label)."""
    body = admin_json_object('{"why": "..."}')
    if "label" not in body:
        raise BadRequest('label: send JSON {"label": "<a label>"} (null removes it).')
    return jsonify({"version": version, "label": admin_actions.set_label(version, body["label"])})


@bp.post("/index/restore-catalog")
@admin_api
def restore_catalog():
    version = version_from_body()
    return jsonify({"job_id": admin_actions.request_catalog_restore(version), "version": version}), 202
