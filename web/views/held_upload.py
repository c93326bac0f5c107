""""Map columns": a catalog upload refused with 422 is sent again, by the id it was kept under, with the
columns chosen for item_id, title, … — no file picked again, no JavaScript needed. Only the admin session
that uploaded it finds it (web/services/held_uploads.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from recommender.catalog.load import CatalogError, Problem
from web.auth import admin_page
from web.services import admin_actions as admin_service
from web.services import held_uploads
from web.views.admin import checked_form, upload_problems
from web.views.forms import ActionForm, UploadForm

bp = Blueprint("held_upload", __name__)
GONE = ("The kept upload is gone (it expired, or was kept for another sign-in): pick the files again. "
        "Nothing was changed.")


def chosen_mapping(held: held_uploads.HeldUpload) -> dict[str, dict[str, str]]:
    """{kind: {role: column}} from the form's map-<kind>-<role> selects; a column the file lacks is a 400."""
    mapping = {}
    for kind in held.names:
        columns = held.columns(kind)
        mapping[kind] = {}
        for role in held_uploads.ROLES[kind]:
            field = f"map-{kind}-{role}"
            column = request.form.get(field, "")
            if column and column not in columns:
                raise BadRequest(f"{field}: {held.names[kind]} has no column {column[:80]!r}")
            mapping[kind][role] = column
    return mapping


def _form_choices() -> tuple[str, bool]:
    return request.form.get("mode") or "replace", request.form.get("clear_events") in ("y", "true", "on", "1")


def _gone():
    return render_template("admin/upload_errors.html", upload_form=UploadForm(), action_form=ActionForm(),
                           problems=[Problem("upload", GONE)], held=None, mapping={}), 404


@bp.get("/admin/catalog/held/<held_id>")
@admin_page
def held_upload(held_id: str):
    try:
        held = held_uploads.find(held_id)
    except held_uploads.HeldUploadGone:
        return _gone()
    return render_template("admin/upload_errors.html", upload_form=UploadForm(), action_form=ActionForm(),
                           problems=[], held=held, mapping={})


@bp.post("/admin/catalog/held/<held_id>")
@admin_page
@checked_form()
def send_held_upload(form, held_id: str):
    try:
        held = held_uploads.find(held_id)
    except held_uploads.HeldUploadGone:
        return _gone()
    mapping = chosen_mapping(held)
    files = {kind: held_uploads.mapped_file(held, kind, mapping[kind]) for kind in held.names}
    mode, clear_events = _form_choices()
    try:
        job_id = admin_service.upload_catalog(files["items"], files.get("interactions"), mode, clear_events)
    except CatalogError as exc:
        return upload_problems(UploadForm(), exc.problems, held, mapping)
    held_uploads.discard(held_id)
    flash(f"Catalog accepted with the columns you chose; building it now. Job {job_id[:8]}.")
    return redirect(url_for("admin.dashboard"))
