"""The metrics page (/admin/metrics), its experiment actions, and the admin metrics JSON API."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from web.auth import admin_api, admin_page
from web.extensions import wants_fragment
from web.services import panel_metrics
from web.views.admin import checked_form
from web.views.common import admin_json_object
from web.views.forms import ActionForm

bp = Blueprint("metrics", __name__)
api_bp = Blueprint("metrics_api", __name__, url_prefix="/api/admin")


def _window() -> tuple[float | None, float | None]:
    return (panel_metrics.parse_moment("since", request.args.get("since")),
            panel_metrics.parse_moment("until", request.args.get("until")))


@bp.get("/admin/metrics")
@admin_page
def page():
    since, until = _window()
    return render_template("admin/metrics.html", versions=panel_metrics.version_metrics(since, until),
                           panels=panel_metrics.per_panel(since, until),
                           chart=panel_metrics.daily_chart(since, until), action_form=ActionForm(),
                           labels=panel_metrics.version_labels(),
                           since=request.args.get("since", ""), until=request.args.get("until", ""))


@bp.app_template_global("metrics_panel_state")
def panel_state() -> dict:
    return panel_metrics.panel_state()


@bp.get("/admin/experiment-card")
@admin_page
def experiment_card():
    back = "dashboard" if request.args.get("back") == "dashboard" else ""
    return render_template("partials/admin_experiment.html", action_form=ActionForm(), back=back)


def _after(message: str):
    if wants_fragment():
        response = make_response(render_template("partials/admin_experiment.html", action_form=ActionForm(),
                                                 notice=message))
        return response
    flash(message)
    back = "admin.dashboard" if request.form.get("back") == "dashboard" else "metrics.page"
    return redirect(url_for(back))


def _share(raw: str) -> float:
    try:
        return float(raw) / 100
    except ValueError:
        raise BadRequest(f"share must be a percentage, got {raw[:20]!r}") from None


@bp.post("/admin/experiments")
@admin_page
@checked_form()
def start(form):
    started = panel_metrics.start_experiment(request.form.get("challenger"),
                                               _share(request.form.get("share_percent", "50")))
    return _after(f"Experiment {started['experiment_id']} started: {started['challenger']} against "
                  f"{started['control']}.")


@bp.post("/admin/experiments/<experiment_id>/stop")
@admin_page
@checked_form()
def stop(form, experiment_id: str):
    promote = request.form.get("promote") or None
    panel_metrics.stop_experiment(experiment_id, promote)
    return _after(f"Experiment {experiment_id} stopped" + (f"; promoting {promote}." if promote else "."))


@api_bp.get("/metrics")
@admin_api
def metrics():
    since, until = _window()
    return jsonify({"since": since, "until": until, "versions": panel_metrics.version_metrics(since, until),
                    "panels": panel_metrics.per_panel(since, until)})


@api_bp.post("/experiments")
@admin_api
def start_experiment():
    body = admin_json_object('{"challenger": "<a kept version>", "share": 0.5}')
    started = panel_metrics.start_experiment(body.get("challenger"), body.get("share"))
    return jsonify(started), 201


@api_bp.get("/experiments/<experiment_id>")
@admin_api
def experiment(experiment_id: str):
    return jsonify(panel_metrics.experiment_report(experiment_id))


@api_bp.post("/experiments/<experiment_id>/stop")
@admin_api
def stop_experiment(experiment_id: str):
    body = admin_json_object('{"promote": "<a version>" or null}')
    promote = body.get("promote")
    if promote is not None and not isinstance(promote, str):
        raise BadRequest('promote must be a version name or null')
    return jsonify(panel_metrics.stop_experiment(experiment_id, promote))
