"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web.extensions import model_holder, store_of_record

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    holder = model_holder()
    model = holder.model
    body = {"ready": model is not None, "index_version": model.version if model else None}
    if holder.failure is not None:
        body["load_error"] = {"version": holder.failure.version, "reason": holder.failure.reason}
    if model is None:
        body["reason"] = "no index loaded yet"
        return jsonify(body), 503
    if store_problem := store_of_record().file_problem():
        body.update(ready=False, reason=f"the store of record is lost: {store_problem}")
        return jsonify(body), 503
    return jsonify(body)
