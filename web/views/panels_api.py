"""JSON for the personal lists (GET /api/recommendations) and forgetting a user or visitor
(DELETE /api/admin/users/<user_id>, DELETE /api/admin/visitors/<visitor>)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from recommender.store.user_data import UserData
from web.auth import admin_api
from web.extensions import events_watermark, served_model
from web.services import personal_lists
from web.services.store_writes import schedule_rebuild, stored
from web.services.tracking import VISITOR_PARAM, track_api_answer
from web.views.common import parse_filters, parse_k, versioned
from worker.queue import EVENTS_CHANGED

bp = Blueprint("panels_api", __name__, url_prefix="/api")


@bp.get("/recommendations")
def recommendations():
    k = parse_k(request.args.get("k"))
    filters = parse_filters()
    who = personal_lists.asker(use_cookie=False)
    if who is None:
        raise BadRequest(f"give {personal_lists.USER_PARAM}= (your site's user id) or {VISITOR_PARAM}= "
                         "(Likewise's visitor id)")
    model = served_model()
    answer = personal_lists.for_you(k, filters, who)
    body = {"for": who.as_dict(), "k": k, "basis": answer.basis, "seeds": list(answer.seeds),
            "results": [r.as_dict() for r in answer.results], "index_version": model.version}
    tracked = track_api_answer(body, None, k, answer.results, panel="for-you")
    return personal_lists.private(versioned(jsonify(tracked), model))


def _forget(kind: str, user_id: str):
    removed = stored(lambda store: UserData(store.engine).forget(user_id))
    events_watermark().expire()  # this process's next for-you answers see them at once
    if not any(removed.values()):
        raise NotFound(f"Likewise holds no events or impressions of {kind} {user_id!r}")
    job_id = schedule_rebuild(EVENTS_CHANGED) if removed["events"] else None
    return jsonify({kind: user_id, "removed": removed, "rebuild_job_id": job_id})


@bp.delete("/admin/users/<user_id>")
@admin_api
def forget_user(user_id: str):
    """Delete a site user's events and wipe their id from impressions and clicks; a rebuild then forgets them."""
    return _forget(personal_lists.USER_PARAM, personal_lists.checked(personal_lists.USER_PARAM, user_id))


@bp.delete("/admin/visitors/<visitor>")
@admin_api
def forget_visitor(visitor: str):
    """The same for Likewise's visitor id (the lw_visitor cookie)."""
    return _forget(VISITOR_PARAM, personal_lists.checked(VISITOR_PARAM, visitor))
