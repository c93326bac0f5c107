"""The admin area: index status, rebuilds, catalog uploads, job progress and rollback.

The web tier never writes an index: rebuilds and rollbacks are jobs the worker runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Blueprint, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable
from wtforms import FileField, HiddenField, PasswordField
from wtforms.validators import DataRequired

from recommender.catalog import CatalogError
from recommender.index_store import IndexStoreError
from web.auth import LoginThrottle, admin_api, admin_page, sign_in, sign_out, token_matches
from web.uploads import save_upload
from web.views.common import wants_fragment
from worker import ROLLBACK_TASK
from worker.jobs import JobQueue, JobQueueUnavailable, job_queue_for

bp = Blueprint("admin", __name__)
api_bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")
throttle = LoginThrottle()
ROLLBACK_WAIT_SECONDS = 10


class LoginForm(FlaskForm):
    token = PasswordField("Admin token", validators=[DataRequired(message="Enter the admin token.")])
    next = HiddenField()


class UploadForm(FlaskForm):
    items = FileField("Items file (CSV or Parquet)")
    interactions = FileField("Interactions file (optional)")


class ActionForm(FlaskForm):
    """Just the CSRF token, for the buttons that POST."""


class QueueUnavailable(ServiceUnavailable):
    description = "Job queue unavailable: Redis cannot be reached. Searches still work; try this again shortly."


def job_queue() -> JobQueue:
    if not current_app.config.get("REDIS_URL"):
        raise QueueUnavailable("Job queue unavailable: REDIS_URL is not set, so no worker can be reached.")
    return job_queue_for(current_app)


def _queue_call(action):
    try:
        return action(job_queue())
    except JobQueueUnavailable as exc:
        raise QueueUnavailable(f"{exc}. Searches still work; try this again shortly.") from None


def _job_or_404(job_id: str):
    job = _queue_call(lambda q: q.status(job_id))
    if job is None:
        raise NotFound(f"No job with id {job_id}.")
    return job


def index_summary() -> dict:
    store = current_app.extensions["index_store"]
    holder = current_app.extensions["model_holder"]
    model = holder.model
    return {
        "current": model.manifest if model else None,
        "serving": model.version if model else None,
        "published": store.current_version(),
        "versions": store.versions(),
        "load_error": ({"version": holder.failure.version, "reason": holder.failure.reason}
                       if holder.failure else None),
    }


# -- browser pages -----------------------------------------------------------------------------
@bp.route("/admin/login", methods=["GET", "POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    client = request.remote_addr or "?"
    if request.method == "POST":
        if throttle.blocked(client):
            form.token.errors = ["Too many attempts: wait a minute and try again."]
            status = 429
        elif form.validate_on_submit() and token_matches(form.token.data):
            throttle.succeeded(client)
            sign_in()
            target = form.next.data if (form.next.data or "").startswith("/admin") else url_for("admin.dashboard")
            return redirect(target)
        else:
            throttle.failed(client)
            if form.token.data:
                form.token.errors = ["That is not the admin token."]
            status = 401 if form.token.data else 400
    return render_template("admin/login.html", form=form), status


@bp.post("/admin/logout")
@admin_page
def logout():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired: reload the page and try again.")
    sign_out()
    return redirect(url_for("pages.home"))


@bp.get("/admin")
@admin_page
def dashboard():
    jobs, queue_error = [], None
    try:
        jobs = _queue_call(lambda q: q.recent())
    except QueueUnavailable as exc:
        queue_error = exc.description
    return render_template("admin/dashboard.html", summary=index_summary(), jobs=jobs, queue_error=queue_error,
                           upload_form=UploadForm(), action_form=ActionForm(),
                           flower_url=current_app.config["FLOWER_URL"])


@bp.get("/admin/index-card")
@admin_page
def index_card():
    return render_template("partials/admin_index_card.html", summary=index_summary(), action_form=ActionForm())


@bp.get("/admin/jobs")
@admin_page
def jobs_list():
    return render_template("partials/admin_jobs.html", jobs=_queue_call(lambda q: q.recent()), queue_error=None)


@bp.get("/admin/jobs/<job_id>")
@admin_page
def job_row(job_id: str):
    job = _job_or_404(job_id)
    response = make_response(render_template("partials/admin_job.html", job=job))
    if job.finished:
        response.headers["HX-Trigger"] = "index-changed"
    return response


def _after_action(message: str):
    """htmx gets the fresh job list; a plain form post goes back to the dashboard."""
    if wants_fragment():
        response = make_response(render_template("partials/admin_jobs.html", jobs=_queue_call(lambda q: q.recent()),
                                                 queue_error=None, notice=message))
        return response
    flash(message)
    return redirect(url_for("admin.dashboard"))


@bp.post("/admin/rebuild")
@admin_page
def rebuild():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired: reload the page and try again.")
    job_id, joined = _queue_call(lambda q: q.request_rebuild())
    message = ("A rebuild was already waiting; your request joined it." if joined
               else "Rebuild queued.") + f" Job {job_id[:8]}."
    return _after_action(message)


@bp.post("/admin/catalog")
@admin_page
def upload_catalog():
    form = UploadForm()
    if not form.validate_on_submit():
        raise BadRequest("The form expired: reload the page and try again.")
    job_queue()  # refuse early, before saving files, when no queue is configured
    try:
        files = save_upload(Path(current_app.config["DATA_DIR"]), request.files.get("items"),
                            request.files.get("interactions"))
    except CatalogError as exc:
        html = render_template("partials/admin_upload.html", upload_form=form, problems=exc.problems)
        if wants_fragment():
            response = make_response(html, 422)
            response.headers["HX-Retarget"] = "#upload"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        return render_template("admin/upload_errors.html", upload_form=form, problems=exc.problems), 422
    job_id = _queue_upload(files)
    return _after_action(f"Catalog accepted; building it now. Job {job_id[:8]}.")


@bp.post("/admin/rollback")
@admin_page
def rollback():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired: reload the page and try again.")
    version = request.form.get("version", "")
    _check_version(version)
    job_id = _send_rollback(version)
    return _after_action(f"Rolling back to {version}. Job {job_id[:8]}.")


def _queue_upload(files) -> str:
    """Queue the build of a saved upload; if it cannot be queued, its files are removed."""
    try:
        return _queue_call(lambda q: q.request_catalog_build(str(files.items.parent), _names(files)))
    except QueueUnavailable:
        shutil.rmtree(files.items.parent, ignore_errors=True)
        raise


def _names(files) -> dict:
    return {"items": files.items.name, **({"interactions": files.interactions.name} if files.interactions else {})}


def _check_version(version: str) -> None:
    store = current_app.extensions["index_store"]
    try:
        store.version_path(version)
    except IndexStoreError as exc:
        raise NotFound(f"{exc}: choose one of the kept versions.") from None


def _send_rollback(version: str) -> str:
    def run(queue: JobQueue):
        return queue.request_task(ROLLBACK_TASK, "rollback", {"version": version})
    return _queue_call(run)


# -- JSON admin API ----------------------------------------------------------------------------
@api_bp.post("/rebuild")
@admin_api
def api_rebuild():
    job_id, joined = _queue_call(lambda q: q.request_rebuild())
    return jsonify({"job_id": job_id, "coalesced": joined}), 202


@api_bp.post("/catalog")
@admin_api
def api_catalog():
    job_queue()  # refuse early, before saving files, when no queue is configured
    try:
        files = save_upload(Path(current_app.config["DATA_DIR"]), request.files.get("items"),
                            request.files.get("interactions"))
    except CatalogError as exc:
        return jsonify({"errors": [p.as_dict() | {"text": str(p)} for p in exc.problems]}), 422
    job_id = _queue_upload(files)
    return jsonify({"job_id": job_id}), 202


@api_bp.get("/jobs/<job_id>")
@admin_api
def api_job(job_id: str):
    return jsonify(_job_or_404(job_id).as_dict())


@api_bp.get("/index")
@admin_api
def api_index():
    return jsonify(index_summary())


@api_bp.post("/index/rollback")
@admin_api
def api_rollback():
    body = request.get_json(silent=True)
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version:
        raise BadRequest('Send JSON {"version": "<a kept version>"}.')
    _check_version(version)
    job_id = _send_rollback(version)
    job = _queue_call(lambda q: q.wait(job_id, ROLLBACK_WAIT_SECONDS))
    status = 200 if job and job.state == "SUCCESS" else 202
    return jsonify({"job_id": job_id, "version": version, "state": job.state if job else "PENDING"}), status
