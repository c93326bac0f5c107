"""The web tier's failed-attempt limiters: worker.attempts, counting in the job queue's Redis, one bucket
per token (admin, ingest), so guesses at one token never throttle the other."""

from __future__ import annotations

import redis
from flask import current_app

from recommender.limits import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS
from web.extensions import settings
from worker.attempts import ADMIN_BUCKET, REDIS_ERRORS, FailedAttempts
from worker.queue import job_queue_for

__all__ = ["ADMIN_BUCKET", "INGEST_BUCKET", "REDIS_ERRORS", "AttemptLimiter", "shared_redis"]

INGEST_BUCKET = "ingest"


def shared_redis() -> redis.Redis | None:
    """The Redis every web process shares (the job queue's), or None when none is configured."""
    if not settings().redis_url:
        return None
    return job_queue_for(current_app).redis


def _prefix() -> str:
    return settings().redis_prefix


class AttemptLimiter(FailedAttempts):
    """At most `attempts` failures per client per window, counted across web processes."""

    def __init__(self, bucket: str = ADMIN_BUCKET, attempts: int = LOGIN_ATTEMPTS, window: int = LOGIN_WINDOW_SECONDS):
        super().__init__(shared_redis, _prefix, attempts, window, bucket)
