"""Merchandising rules: the admin JSON API (PUT/GET/DELETE /api/admin/rules[/<rule_id>], Bearer token, no cookies)
and the rules section of the admin page (plain forms with CSRF, so it works without JavaScript)."""

from __future__ import annotations

import json

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from recommender.limits import RULE_BODY_MAX_BYTES, RULES_MAX
from recommender.rules.rule_schema import ACTIONS, SURFACES, RuleProblem
from web.auth import admin_api, admin_page
from web.client_address import client_address
from web.extensions import model_holder, wants_fragment
from web.services import merchandising
from web.services.store_writes import StoreDown
from web.views.admin import checked_form
from web.views.common import json_body
from web.views.forms import ActionForm

bp = Blueprint("rules_api", __name__, url_prefix="/api/admin/rules")
admin_bp = Blueprint("rules_admin", __name__)
EXAMPLE = '{"surface": "similar", "where": {"Manufacturer": "Honda"}, "action": "boost", "factor": 2}'
FORM_TEXT_FIELDS = ("rule_id", "surface", "action", "where", "when", "factor", "position", "item_id")


@bp.errorhandler(merchandising.RuleRefused)
def refused(error: merchandising.RuleRefused):
    return jsonify({"error": error.description, "errors": [error.problem.as_dict()]}), 422


@bp.get("")
@admin_api
def list_rules():
    return jsonify({"rules": merchandising.listed_rules(), "max_rules": RULES_MAX})


@bp.get("/<rule_id>")
@admin_api
def get_rule(rule_id: str):
    found = [rule for rule in merchandising.listed_rules() if rule["rule_id"] == rule_id]
    if not found:
        raise NotFound(f"no rule '{rule_id[:80]}'")
    return jsonify(found[0])


@bp.put("/<rule_id>")
@admin_api
def put_rule(rule_id: str):
    body = json_body(RULE_BODY_MAX_BYTES, EXAMPLE)
    outcome = merchandising.put_rule(rule_id, body, f"admin API from {client_address()}")
    return jsonify({"rule_id": rule_id, "result": outcome}), 201 if outcome == "created" else 200


@bp.delete("/<rule_id>")
@admin_api
def delete_rule(rule_id: str):
    merchandising.delete_rule(rule_id, f"admin API from {client_address()}")
    return "", 204


def _form_body() -> tuple[str, dict]:
    """The admin form as a rule: conditions are JSON text, numbers are numbers, unchecked 'enabled' is false."""
    form = request.form
    body: dict = {"surface": form.get("surface", ""), "action": form.get("action", ""),
                  "enabled": bool(form.get("enabled"))}
    for name in ("where", "when"):
        if form.get(name, "").strip():
            try:
                body[name] = json.loads(form[name])
            except ValueError:
                raise merchandising.RuleRefused(RuleProblem(name, 'not JSON: write a condition such as '
                                                                  '{"Manufacturer": "Honda"}')) from None
    for name, kind in (("factor", float), ("position", int)):
        if form.get(name, "").strip():
            try:
                body[name] = kind(form[name])
            except ValueError:
                raise merchandising.RuleRefused(RuleProblem(name, f"must be a number, got {form[name][:40]!r}")) \
                    from None
    if form.get("item_id", "").strip():
        body["item_id"] = form["item_id"].strip()
    return form.get("rule_id", "").strip(), body


def rules_section() -> dict:
    """What the rules section of /admin shows: the rules, the recent changes, the attributes, the choices."""
    model = model_holder().model
    try:
        rules, history, error = merchandising.listed_rules(), merchandising.rule_history(), None
    except StoreDown as exc:
        rules, history, error = [], [], exc.description
    return {"rules": rules, "history": history, "error": error, "surfaces": SURFACES, "actions": ACTIONS,
            "attributes": model.attribute_columns.summaries() if model is not None else [], "max_rules": RULES_MAX}


admin_bp.add_app_template_global(rules_section, "admin_rules_section")


def _answer(notice: str | None = None, problem: str | None = None, status: int = 200):
    """htmx gets the fresh section; a plain form post goes back to the dashboard, or, refused, to the form."""
    form = request.form if problem else {}
    if wants_fragment():
        return make_response(render_template("partials/admin_rules.html", action_form=ActionForm(), notice=notice,
                                             problem=problem, sent=form), status)
    if problem:
        return render_template("admin/rules.html", action_form=ActionForm(), problem=problem, sent=form), status
    flash(notice)
    return redirect(url_for("admin.dashboard") + "#rules")


@admin_bp.get("/admin/rules")
@admin_page
def rules_page():
    return render_template("admin/rules.html", action_form=ActionForm(), problem=None, sent={})


@admin_bp.post("/admin/rules")
@admin_page
@checked_form()
def save_rule(form):
    try:
        rule_id, body = _form_body()
        outcome = merchandising.put_rule(rule_id, body, f"admin page from {client_address()}")
    except merchandising.RuleRefused as refused_rule:
        return _answer(problem=refused_rule.description, status=422)
    return _answer(notice=f"Rule {rule_id} {outcome}: it applies in every web process within two seconds.")


@admin_bp.post("/admin/rules/delete")
@admin_page
@checked_form()
def remove_rule(form):
    rule_id = request.form.get("rule_id", "")
    merchandising.delete_rule(rule_id, f"admin page from {client_address()}")
    return _answer(notice=f"Rule {rule_id} deleted.")
