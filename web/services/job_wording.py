"""A job of the admin page's list in words a shop owner reads: what started it, when, how long it took or
has been running, the step it is at, and how it ended (not the worker's internal stage names)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from worker.queue import AUTO_REASON, PERIODIC_REASON, PUBLISH_KIND, JobStatus

STAGE_WORDS = {
    "queued": "waiting for the worker",
    "starting": "starting",
    "waiting for the build lock": "waiting for another job to finish",
    "loading catalog": "reading the catalog",
    "reusing the served version's evaluation": "reusing the last quality check",
    "evaluating": "checking recommendation quality",
    "vectors": "comparing the items",
    "index": "building the search index",
    "neighbours": "finding similar items",
    "save": "saving the new version",
    "built": "built",
    "verifying": "checking the new version loads",
    "publishing": "switching visitors to the new version",
    "deferred": "waiting until changes pause",
    "done": "done",
    "failed": "failed",
}
KIND_WORDS = {"rebuild": "Rebuild", "upload": "Catalog upload", "rollback": "Roll back",
              PUBLISH_KIND: "Publish by hand", "restore catalog": "Restore a catalog"}
TRIGGER_WORDS = {"upload": "you uploaded a catalog", "rollback": "you rolled back",
                 PUBLISH_KIND: "you published a kept version", "restore catalog": "you restored a catalog",
                 "manual": "you asked for it", PERIODIC_REASON: "the schedule",
                 AUTO_REASON: "the store changed", "promotion": "an A/B test promoted a version"}
RUNNING_WORDS = {"upload": "Catalog accepted; building it now.", "rebuild": "Building a new version.",
                 "rollback": "Switching back.", PUBLISH_KIND: "Publishing.",
                 "restore catalog": "Writing the catalog back into the store."}


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%d %b %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _trigger(job: JobStatus) -> str:
    if job.kind == "rebuild":
        return TRIGGER_WORDS.get(job.reason or "", "a rebuild was asked for")
    return TRIGGER_WORDS.get(job.kind, job.kind)


def _outcome(job: JobStatus) -> str:
    """How a finished job ended, in a sentence."""
    if job.state != "SUCCESS":
        return "Failed: nothing was changed." if not job.error else f"Failed: {job.error}."
    if message := job.outcome.get("message"):
        return message[:1].upper() + message[1:] + "."
    if job.kind == "restore catalog":
        return f"Done: the store holds the catalog of version {job.index_version} again."
    if job.index_version:
        return f"Done: version {job.index_version} is served."
    return "Done."


def job_words(job: JobStatus, now: float | None = None) -> dict:
    """What the job row shows besides its bar: kind, trigger, when, how long, step or outcome."""
    now = time.time() if now is None else now
    started = job.requested_at
    ended = job.finished_at if job.finished else None
    took = (ended or now) - started if started else None
    return {"kind": KIND_WORDS.get(job.kind, job.kind.capitalize()), "trigger": _trigger(job),
            "requested": _clock(started) if started else None,
            "took": _duration(took) if took is not None and (ended or not job.finished) else None,
            "step": STAGE_WORDS.get(job.stage, job.stage),
            "running": RUNNING_WORDS.get(job.kind, "Working on it."),
            "outcome": _outcome(job) if job.finished else None}
