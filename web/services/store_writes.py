"""What the items and events APIs do: write to the store of record, then ask for an automatic rebuild.

A write is answered only once it is committed. Scheduling the rebuild comes after and never undoes
it: with Redis down the change is kept and the next change (or a manual rebuild) builds it.
Removal needs no rebuild: the removed-items list is written in the same transaction.
"""

from __future__ import annotations

import logging

from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from recommender.store import Store, StoreUnavailable
from recommender.store.file_guard import StoreFileGone
from web.extensions import events_watermark, model_holder, settings, store_of_record
from worker.queue import EVENTS_CHANGED, ITEMS_CHANGED, JobQueueUnavailable, job_queue_for

log = logging.getLogger(__name__)


class StoreDown(ServiceUnavailable):
    description = "The store of record (database) is unavailable: nothing was stored. Try again shortly."


class StoreLost(ServiceUnavailable):
    description = "The store of record's file was deleted or replaced: nothing was stored."


def store() -> Store:
    try:
        return store_of_record().get()
    except StoreFileGone as exc:
        raise StoreLost(f"Nothing was stored: {exc}.") from None
    except StoreUnavailable as exc:
        raise StoreDown(f"The database is unavailable: nothing was stored ({exc}). Try again shortly.") from None


def stored(action):
    """Run `action(store)`, turning a database that is down into a 503 that says nothing was stored."""
    try:
        return action(store())
    except StoreFileGone as exc:
        raise StoreLost(f"Nothing was stored: {exc}.") from None
    except StoreUnavailable as exc:
        raise StoreDown(f"The database is unavailable: nothing was stored ({exc}). Try again shortly.") from None


def schedule_rebuild(changed: str = ITEMS_CHANGED) -> str | None:
    """Ask for one rebuild after the changes pause (coalesced); None when one is already scheduled
    or no job queue can be reached (logged: the change itself is stored)."""
    app_settings = settings()
    if not app_settings.redis_url:
        return None
    try:
        return job_queue_for(current_app).request_rebuild_after(app_settings.rebuild_after_seconds,
                                                               app_settings.rebuild_at_most_every, changed)
    except JobQueueUnavailable as exc:
        log.warning("change stored, automatic rebuild not scheduled: %s", exc)
        return None


def put_item(item_id: str, body: dict) -> str:
    status = stored(lambda s: s.put_item(item_id, body))
    schedule_rebuild()
    return status


def put_items(bodies) -> tuple[int, int]:
    counts = stored(lambda s: s.put_items(bodies))
    schedule_rebuild()
    return counts


def delete_item(item_id: str) -> bool:
    deleted = stored(lambda s: s.delete_item(item_id))
    if deleted:
        schedule_rebuild()
    return deleted


def get_item(item_id: str) -> dict | None:
    """The stored record, and whether the served index (and so its answers) has it yet."""
    record = stored(lambda s: s.get_item(item_id))
    if record is None:
        return None
    holder = model_holder()
    model, served = holder.model, holder.served()
    return {"item": record, "in_served_index": bool(model is not None and model.has_item(item_id)),
            "shown_in_answers": bool(served is not None and served.has_item(item_id)),
            "index_version": model.version if model is not None else None}


def add_events(events) -> dict:
    result = stored(lambda s: s.add_events(events))
    if result["accepted"]:
        events_watermark().expire()  # this process's next for-you answers see them at once
        schedule_rebuild(EVENTS_CHANGED)
    return result


def store_summary() -> dict:
    """For the admin page: the store's counts, and when the next automatic rebuild is due."""
    summary = stored(lambda s: s.summary())
    auto = {"next_rebuild_at": None, "unbuilt_changes_since": None}
    if settings().redis_url:
        try:
            auto = job_queue_for(current_app).auto_rebuild_state()
        except JobQueueUnavailable:
            auto["error"] = "Redis cannot be reached"
    return {**summary, "automatic_rebuild": auto}
