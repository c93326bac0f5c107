"""The admin pages: index status, rebuilds, catalog uploads, job progress and rollback.

Every action is a job the worker runs (web/services/admin_actions.py); the web tier never writes an index.
"""

from __future__ import annotations

import functools
import time

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from recommender.catalog.csv_export import catalog_csv_chunks
from recommender.catalog.load import CatalogError
from recommender.store.items import EXPORT_COLUMNS, export_frame
from web.auth import admin_page, limiter, sign_in, sign_out, token_matches
from web.client_address import client_address
from web.extensions import settings, wants_fragment
from web.services import admin_actions as admin_service
from web.services import held_uploads, store_writes
from web.services.job_wording import job_words
from web.views.forms import ActionForm, LoginForm, UploadForm

bp = Blueprint("admin", __name__)
bp.add_app_template_global(job_words, "job_words")
FORM_EXPIRED = "The form expired: reload the page and try again."


def checked_form(form_class=ActionForm):
    """A POST action whose form (and so its CSRF token) must validate, else 400."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            form = form_class()
            if not form.validate_on_submit():
                raise BadRequest(FORM_EXPIRED)
            return view(form, *args, **kwargs)
        return wrapped
    return decorate


@bp.route("/admin/login", methods=["GET", "POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    client = client_address()
    if request.method == "POST":
        if form.validate_on_submit() and token_matches(form.token.data):
            sign_in()
            target = form.next.data if (form.next.data or "").startswith("/admin") else url_for("admin.dashboard")
            return redirect(target)
        if limiter.blocked(client):
            form.token.errors = ["Too many attempts: wait a minute and try again."]
            status = 429
        else:
            limiter.failed(client)
            if form.token.data:
                form.token.errors = ["That is not the admin token."]
            status = 401 if form.token.data else 400
    return render_template("admin/login.html", form=form), status


@bp.post("/admin/logout")
@admin_page
@checked_form()
def logout(form):
    sign_out()
    return redirect(url_for("pages.home"))


@bp.get("/admin")
@admin_page
def dashboard():
    jobs, queue_error = [], None
    try:
        jobs = admin_service.recent_jobs()
    except admin_service.QueueUnavailable as exc:
        queue_error = exc.description
    return render_template("admin/dashboard.html", summary=admin_service.index_summary(), jobs=jobs,
                           queue_error=queue_error, upload_form=UploadForm(), action_form=ActionForm(),
                           flower_url=settings().flower_url)


@bp.get("/admin/index-card")
@admin_page
def index_card():
    """The served index card. When the version it serves is not the one the card showed (?shown=), it tells
    the cards that depend on the served version (embed snippet, A/B test, store) to refresh ("served-changed")."""
    summary = admin_service.index_summary()
    response = make_response(render_template("partials/admin_index_card.html", summary=summary,
                                             action_form=ActionForm()))
    if "shown" in request.args and request.args["shown"] != (summary["serving"] or ""):
        response.headers["HX-Trigger"] = "served-changed"
    return response


@bp.get("/admin/store-card")
@admin_page
def store_card():
    return render_template("partials/admin_store_card.html", summary={"store": admin_service.store_state()})


@bp.get("/admin/embed-snippet")
@admin_page
def embed_snippet():
    return render_template("partials/admin_embed_snippet.html")


@bp.get("/admin/jobs")
@admin_page
def jobs_list():
    return render_template("partials/admin_jobs.html", jobs=admin_service.recent_jobs(), queue_error=None)


@bp.get("/admin/jobs/<job_id>")
@admin_page
def job_row(job_id: str):
    """The job's row (it polls while the job runs; ?part=notice: the notice of the action that queued it,
    which becomes the job's outcome once it ends, 204 while it runs)."""
    job = admin_service.job(job_id)
    if request.args.get("part") == "notice":
        if not job.finished:
            return "", 204
        return render_template("partials/admin_job_notice.html", job=job)
    response = make_response(render_template("partials/admin_job.html", job=job))
    if job.finished:
        response.headers["HX-Trigger"] = "index-changed"
    return response


def _after_action(message: str, job_id: str | None = None):
    """htmx gets the fresh job list (its notice turns into the job's outcome when the job ends); a plain
    form post goes back to the dashboard."""
    if wants_fragment():
        return make_response(render_template("partials/admin_jobs.html", jobs=admin_service.recent_jobs(),
                                             queue_error=None, notice=message, notice_job=job_id))
    flash(message)
    return redirect(url_for("admin.dashboard"))


@bp.post("/admin/rebuild")
@admin_page
@checked_form()
def rebuild(form):
    job_id, joined = admin_service.request_rebuild()
    message = ("A rebuild was already waiting; your request joined it." if joined
               else "Rebuild queued.") + f" Job {job_id[:8]}."
    return _after_action(message, job_id)


def upload_problems(form: UploadForm, problems, held=None, mapping=None):
    """422 with every problem; a kept upload (`held`) is offered for "map columns" without picking it again."""
    context = {"upload_form": form, "problems": problems, "held": held, "mapping": mapping or {},
               "action_form": ActionForm()}
    if wants_fragment():
        response = make_response(render_template("partials/admin_upload.html", **context), 422)
        response.headers["HX-Retarget"] = "#upload"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template("admin/upload_errors.html", **context), 422


@bp.post("/admin/catalog")
@admin_page
@checked_form(UploadForm)
def upload_catalog(form):
    try:
        job_id = admin_service.upload_catalog(request.files.get("items"), request.files.get("interactions"),
                                              form.mode.data or "replace", bool(form.clear_events.data))
    except CatalogError as exc:
        return upload_problems(form, exc.problems, held_uploads.hold(request.files.get("items"),
                                                                     request.files.get("interactions")))
    return _after_action(f"Catalog accepted; building it now. Job {job_id[:8]}.", job_id)


def _version_action(request_job, message: str):
    """A button about one kept version: queue its job, then say so in `message` (with {version})."""
    version = request.form.get("version", "")
    job_id = request_job(version)
    return _after_action(f"{message.format(version=version)} Job {job_id[:8]}.", job_id)


@bp.post("/admin/rollback")
@admin_page
@checked_form()
def rollback(form):
    if request.form.get("restore_rules"):
        return _version_action(lambda version: admin_service.request_rollback(version, restore_rules=True),
                               "Rolling back to {version}, with the rules in force when it was built.")
    return _version_action(admin_service.request_rollback, "Rolling back to {version}.")


@bp.post("/admin/publish")
@admin_page
@checked_form()
def publish(form):
    warning = admin_service.held_back_reason(request.form.get("version", ""))
    return _version_action(admin_service.request_publish, "Publishing {version} by hand" + (
        f", although it was held back: {warning}." if warning else "."))


def _index_card(notice: str, status: int = 200):
    """htmx gets the fresh index card; a plain form post goes back to the dashboard."""
    if wants_fragment():
        return make_response(render_template("partials/admin_index_card.html", summary=admin_service.index_summary(),
                                             action_form=ActionForm(), notice=notice), status)
    flash(notice)
    return redirect(url_for("admin.dashboard"))


@bp.post("/admin/pin")
@admin_page
@checked_form()
def pin(form):
    """Pin the served version (action=pin) or unpin (action=unpin)."""
    if request.form.get("action") == "unpin":
        admin_service.unpin()
        return _index_card("Unpinned: the next automatic build publishes.")
    pinned = admin_service.pin(request.form.get("why") or None)
    return _index_card(f"Pinned {pinned['version']}: automatic builds are kept, not published, until you unpin.")


@bp.post("/admin/label")
@admin_page
@checked_form()
def label(form):
    version = request.form.get("version", "")
    label = admin_service.set_label(version, request.form.get("label", "").strip())
    return _index_card(f"Labelled {version} “{label}”." if label else f"Removed the label of {version}.")


@bp.post("/admin/restore-catalog")
@admin_page
@checked_form()
def restore_catalog(form):
    return _version_action(admin_service.request_catalog_restore,
                           "Restoring the catalog of {version} into the store.")


@bp.get("/admin/catalog.csv")
@admin_page
def catalog_csv():
    """The store's whole catalog (hidden items too) for a spreadsheet, streamed page by page; cells
    that a spreadsheet would run as formulas are written as text (recommender/catalog/csv_export.py)."""
    names, pages = store_writes.stored(lambda store: store.export_items())
    frames = (export_frame(page, names) for page in pages)
    response = Response(catalog_csv_chunks([*EXPORT_COLUMNS, *names], frames), mimetype="text/csv")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    response.headers["Content-Disposition"] = f'attachment; filename="likewise-catalog-{stamp}.csv"'
    return response
