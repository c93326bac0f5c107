"""Jobs in Redis, shared by the web tier (asks) and the worker (runs): task names, the Celery wiring,
the job queue (coalesced rebuilds, status) and the one-build-at-a-time lock.

Importable without Flask views or the build stack: the web tier sends jobs by name through it and
never imports the worker's tasks.

Coalescing: a plain rebuild asked for while another plain rebuild is still waiting in the queue
joins that waiting job instead of adding one. A job stops "waiting" when it takes the build lock,
so clicks during a running build give exactly one extra build after it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis
from celery import Celery, Task
from celery.result import AsyncResult
from kombu.exceptions import OperationalError

from recommender.settings import Settings

log = logging.getLogger(__name__)

REBUILD_TASK = "likewise.rebuild_index"
ROLLBACK_TASK = "likewise.rollback_index"
RESTORE_CATALOG_TASK = "likewise.restore_catalog"
REPLACE, MERGE = "replace", "merge"  # how an uploaded catalog is written into the store
UPLOAD_MODES = (REPLACE, MERGE)
TASKS_MODULE = "worker.tasks"
QUEUE_NAME = "likewise"
RESULTS_KEPT_SECONDS = 7 * 24 * 3600
LOCK_SECONDS = Settings.build_lock_seconds
LOCK_HEARTBEAT_SECONDS = 20
LOCK_WAIT_SECONDS = 4 * 3600
SEND_CLAIM_SECONDS = 60  # how long a rebuild being sent holds the coalescing key before its send is confirmed
JOBS_KEPT = 20
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")
OUTCOME_KEYS = ("published", "unchanged", "held_back", "message")  # what a build's job result says of publishing
AUTO_REASON = "store changed"
PERIODIC_REASON = "periodic"
ITEMS_CHANGED, EVENTS_CHANGED = "items", "events"  # what an automatic rebuild follows: its trigger
PUBLISH_KIND = "publish"  # the job kind of publishing a kept version by hand (the rollback task, unpinned)
AUTO_KEY_SLACK_S = 300  # an automatic rebuild lost with its worker frees the slot for the next change

CLEAR_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
EXPIRE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


class JobQueueUnavailable(RuntimeError):
    """Redis (the broker) cannot be reached; nothing was queued."""


@dataclass
class JobStatus:
    job_id: str
    kind: str
    state: str
    progress: int = 0
    stage: str = ""
    index_version: str | None = None
    error: str | None = None
    requested_at: float | None = None
    details: dict = field(default_factory=dict)
    outcome: dict = field(default_factory=dict)  # a finished build's published/unchanged/held_back/message
    finished_at: float | None = None  # when the worker stored its result (Unix seconds)
    reason: str | None = None  # what started a finished rebuild: manual, periodic, store changed

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def as_dict(self) -> dict:
        return {"job_id": self.job_id, "kind": self.kind, "state": self.state, "progress": self.progress,
                "stage": self.stage, "index_version": self.index_version, "error": self.error,
                "requested_at": self.requested_at, **self.outcome}


def redis_client(url: str) -> redis.Redis:
    """Short timeouts: an admin action must answer 'unavailable' quickly, never hang."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def celery_config(settings: Settings) -> dict:
    url = settings.redis_url or "redis://127.0.0.1:6379/0"
    config = {
        "broker_url": url,
        "result_backend": url,
        "task_default_queue": QUEUE_NAME,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_track_started": True,
        "worker_prefetch_multiplier": 1,
        "result_extended": True,
        "result_expires": RESULTS_KEPT_SECONDS,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": settings.redeliver_seconds,
                                     "global_keyprefix": settings.redis_prefix},
        "result_backend_transport_options": {"global_keyprefix": settings.redis_prefix},
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "imports": (TASKS_MODULE,),
    }
    if settings.rebuild_every_seconds:
        config["beat_schedule"] = {"periodic-rebuild": {"task": REBUILD_TASK,
                                                        "schedule": float(settings.rebuild_every_seconds),
                                                        "kwargs": {"reason": PERIODIC_REASON}}}
    return config


def celery_init_app(app, settings: Settings) -> Celery:
    """Flask's documented pattern: every task runs inside the app context of the process's app."""
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(settings))
    celery_app.conf.update(app.config.get("CELERY", {}))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def job_queue_for(app) -> "JobQueue":
    """The app's job queue, one per process, from its settings."""
    queue = app.extensions.get("job_queue")
    if queue is None:
        settings = app.extensions["settings"]
        queue = JobQueue(redis_client(settings.redis_url), app.extensions["celery"], settings.redis_prefix)
        app.extensions["job_queue"] = queue
    return queue


class JobQueue:
    """Requests rebuilds and reports on them; shared by the web tier (asks) and the worker (runs)."""

    def __init__(self, client: redis.Redis, celery_app: Celery, prefix: str = Settings.redis_prefix):
        self.redis = client
        self.celery = celery_app
        self.prefix = prefix
        self.pending_key = prefix + "rebuild:pending"
        self.jobs_key = prefix + "jobs"
        self.lock_key = prefix + "build-lock"
        self.building_key = prefix + "building"
        self.auto_key = prefix + "rebuild:auto"
        self.auto_due_key = prefix + "rebuild:auto-due"
        self.last_change_key = prefix + "store:last-change"
        self.dirty_since_key = prefix + "store:unbuilt-since"
        self.changed_key = prefix + "store:changed"

    def _job_key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def _guard(self, action):
        try:
            return action()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OperationalError) as exc:
            raise JobQueueUnavailable(f"job queue unavailable: cannot reach Redis ({exc})") from exc
        except redis.exceptions.ResponseError as exc:  # e.g. MISCONF: Redis cannot save, so it refuses writes
            raise JobQueueUnavailable(f"job queue unavailable: Redis refused the write ({exc})") from exc

    # -- asking -------------------------------------------------------------------------------
    def request_rebuild(self, reason: str = "manual") -> tuple[str, bool]:
        """Queue a rebuild of the active catalog; returns (job id, whether it joined a waiting one).

        The coalescing key lives SEND_CLAIM_SECONDS until the send succeeded, so a send that failed
        (and could not even be cleaned up) holds it briefly; only a job still queued or running is joined."""
        def run():
            job_id = str(uuid.uuid4())
            for _ in range(3):
                if self.redis.set(self.pending_key, job_id, nx=True, ex=SEND_CLAIM_SECONDS):
                    try:
                        self._send(job_id, "rebuild", {"reason": reason})
                    except (OperationalError, redis.exceptions.RedisError):
                        self.redis.eval(CLEAR_IF_EQUAL, 1, self.pending_key, job_id)
                        raise
                    self.redis.eval(EXPIRE_IF_EQUAL, 1, self.pending_key, job_id, LOCK_WAIT_SECONDS)
                    return job_id, False
                waiting = self.redis.get(self.pending_key)
                if waiting and self._still_waiting(waiting):
                    return waiting, True
                if waiting:
                    self.redis.eval(CLEAR_IF_EQUAL, 1, self.pending_key, waiting)
            raise JobQueueUnavailable("could not queue the rebuild: try again")
        return self._guard(run)

    def _still_waiting(self, job_id: str) -> bool:
        """Whether a job can still be joined: it was recorded (its send got that far) and has not finished."""
        if not self.redis.exists(self._job_key(job_id)):
            return False
        return AsyncResult(job_id, app=self.celery).state not in FINISHED

    def request_catalog_build(self, upload_id: str, files: dict, mode: str = REPLACE,
                              clear_events: bool = False) -> str:
        """Queue writing an uploaded (already validated) catalog into the store, then a build; named by
        its upload id, never coalesced. clear_events (replace only) also removes the API's events."""
        job_id = str(uuid.uuid4())
        kwargs = {"upload_id": upload_id, "mode": mode, **({"clear_events": True} if clear_events else {})}
        self._guard(lambda: self._send(job_id, "upload", kwargs, files=files))
        return job_id

    def request_task(self, task: str, kind: str, kwargs: dict) -> str:
        """Queue any other job (a rollback, say) so it shows in the job list like a rebuild."""
        job_id = str(uuid.uuid4())
        self._guard(lambda: self._send(job_id, kind, kwargs, task=task))
        return job_id

    # -- automatic rebuilds after changes to the store ---------------------------------------
    def request_rebuild_after(self, quiet: float, ceiling: float, changed: str = ITEMS_CHANGED) -> str | None:
        """A change was stored: rebuild once changes pause for `quiet` seconds, or `ceiling` seconds
        after the first unbuilt change at the latest. Sends a delayed rebuild only when none is
        scheduled, so a burst of changes gives one build; returns the job id it sent, if any.
        `changed` (items or events) is remembered, so the build can say what triggered it."""
        def run():
            now = time.time()
            pipe = self.redis.pipeline()
            pipe.set(self.last_change_key, repr(now))
            pipe.set(self.dirty_since_key, repr(now), nx=True)
            pipe.sadd(self.changed_key, changed)
            pipe.execute()
            job_id = str(uuid.uuid4())
            if not self.redis.set(self.auto_key, job_id, nx=True, ex=int(quiet) + AUTO_KEY_SLACK_S):
                return None
            self._schedule(job_id, quiet)
            return job_id
        return self._guard(run)

    def _schedule(self, job_id: str, countdown: float) -> None:
        self.redis.set(self.auto_due_key, repr(time.time() + countdown))
        try:
            self._send(job_id, "auto rebuild", {"reason": AUTO_REASON}, countdown=countdown)
        except OperationalError:
            self.redis.eval(CLEAR_IF_EQUAL, 1, self.auto_key, job_id)
            raise

    def auto_rebuild_wait(self, quiet: float, ceiling: float, now: float | None = None) -> float:
        """Seconds an automatic rebuild starting now should still wait (0: build now)."""
        now = time.time() if now is None else now
        last, first = self.redis.mget(self.last_change_key, self.dirty_since_key)
        if last is None or first is None:
            return 0.0
        return max(0.0, min(float(last) + quiet - now, float(first) + ceiling - now))

    def defer_auto_rebuild(self, job_id: str, countdown: float) -> str:
        """Changes are still coming: replace this automatic rebuild by one `countdown` seconds later."""
        later = str(uuid.uuid4())
        self.redis.set(self.auto_key, later, ex=int(countdown) + AUTO_KEY_SLACK_S)
        self._forget_record(job_id)
        self._schedule(later, countdown)
        return later

    def auto_rebuild_starts(self, job_id: str) -> str:
        """The automatic rebuild reads the store now: changes from here on schedule the next one.
        Returns its trigger: "items" when any item changed since the last one, else "events"."""
        pipe = self.redis.pipeline()
        pipe.smembers(self.changed_key)
        pipe.delete(self.dirty_since_key, self.auto_due_key, self.changed_key)
        changed = pipe.execute()[0]
        self.redis.eval(CLEAR_IF_EQUAL, 1, self.auto_key, job_id)
        return EVENTS_CHANGED if changed == {EVENTS_CHANGED} else ITEMS_CHANGED

    def auto_rebuild_state(self) -> dict:
        """For the admin page: when the next automatic rebuild is due, and the last change it follows."""
        def run():
            due, last, first = self.redis.mget(self.auto_due_key, self.last_change_key, self.dirty_since_key)
            return {"next_rebuild_at": float(due) if due else None, "last_change_at": float(last) if last else None,
                    "unbuilt_changes_since": float(first) if first else None}
        return self._guard(run)

    def wait(self, job_id: str, seconds: float) -> JobStatus | None:
        """Poll a job until it finishes or `seconds` pass; returns its last status."""
        deadline = time.monotonic() + seconds
        status = self.status(job_id)
        while status is not None and not status.finished and time.monotonic() < deadline:
            time.sleep(0.1)
            status = self.status(job_id)
        return status

    def _send(self, job_id: str, kind: str, kwargs: dict, files: dict | None = None,
              task: str = REBUILD_TASK, countdown: float | None = None) -> None:
        record = {"kind": kind, "requested_at": time.time(), **{f"file:{k}": v for k, v in (files or {}).items()}}
        pipe = self.redis.pipeline()
        pipe.hset(self._job_key(job_id), mapping=record)
        pipe.expire(self._job_key(job_id), RESULTS_KEPT_SECONDS)
        pipe.lpush(self.jobs_key, job_id)
        pipe.ltrim(self.jobs_key, 0, JOBS_KEPT - 1)
        pipe.execute()
        try:
            self.celery.send_task(task, task_id=job_id, kwargs=kwargs, retry=False, countdown=countdown)
        except (OperationalError, redis.exceptions.RedisError):
            self._forget(job_id)
            raise

    def _forget(self, job_id: str) -> None:
        """A job that never reached the broker must not linger in the list as 'queued'."""
        self._forget_record(job_id)
        self.redis.eval(CLEAR_IF_EQUAL, 1, self.pending_key, job_id)

    def _forget_record(self, job_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(self._job_key(job_id))
        pipe.lrem(self.jobs_key, 0, job_id)
        pipe.execute()

    # -- running (worker) ---------------------------------------------------------------------
    def stop_waiting(self, job_id: str) -> None:
        """The job has started building: later requests must queue a new one."""
        self.redis.eval(CLEAR_IF_EQUAL, 1, self.pending_key, job_id)

    def build_lock(self, seconds: float = LOCK_SECONDS, job_id: str | None = None) -> BuildLock:
        return BuildLock(self.redis, self.lock_key, seconds, job_id, self.building_key)

    # -- reporting ----------------------------------------------------------------------------
    def status(self, job_id: str) -> JobStatus | None:
        def run():
            record = self.redis.hgetall(self._job_key(job_id))
            if not record:
                return None
            return self._status_from(job_id, record)
        return self._guard(run)

    def recent(self, n: int = 10) -> list[JobStatus]:
        def run():
            ids = self.redis.lrange(self.jobs_key, 0, n - 1)
            pipe = self.redis.pipeline()
            for job_id in ids:
                pipe.hgetall(self._job_key(job_id))
            return [self._status_from(j, r) for j, r in zip(ids, pipe.execute()) if r]
        return self._guard(run)

    def _status_from(self, job_id: str, record: dict) -> JobStatus:
        result = AsyncResult(job_id, app=self.celery)
        state = result.state
        info = result.info if isinstance(result.info, dict) else {}
        status = JobStatus(job_id=job_id, kind=record.get("kind", "rebuild"), state=state,
                           requested_at=float(record.get("requested_at", 0)) or None,
                           details={k[5:]: v for k, v in record.items() if k.startswith("file:")})
        if state == "PENDING":
            status.stage = "queued"
        elif state in ("STARTED", "PROGRESS", "RETRY"):
            status.stage = info.get("stage", "starting")
            status.progress = int(info.get("progress", 1))
            if status.progress > 1 and self.redis.get(self.building_key) != job_id:
                status.state = "FAILURE"
                status.stage = "failed"
                status.error = ("the worker running this build stopped; nothing was published. Start a new "
                                "rebuild (the broker may also deliver this job again later)")
        elif state == "SUCCESS":
            status.stage, status.progress = "done", 100
            status.index_version = info.get("index_version")
            status.outcome = {key: info[key] for key in OUTCOME_KEYS if key in info}
            status.reason = info.get("reason")
        else:
            status.stage = "failed"
            status.error = str(result.info) if result.info else "the job failed"
        if status.state in FINISHED:
            status.finished_at = _seconds(result.date_done)
        return status


def _seconds(moment) -> float | None:
    """A result's date_done (a datetime, naive meaning UTC, or its ISO text) as Unix seconds."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return None
    if not isinstance(moment, datetime):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


class BuildLock:
    """A Redis lock held for the whole build and renewed by a heartbeat, so a killed worker's lock
    expires within LOCK_SECONDS instead of blocking builds forever.

    With a job id, the holder also names itself in `building_key` (renewed by the same heartbeat and
    left to expire), so the job list can tell a running build from one whose worker died."""

    def __init__(self, client: redis.Redis, key: str, seconds: float = LOCK_SECONDS, job_id: str | None = None,
                 building_key: str | None = None):
        self.client = client
        self.seconds = seconds
        self.job_id = job_id
        self.building_key = building_key
        self.lock = client.lock(key, timeout=seconds, blocking=True, blocking_timeout=LOCK_WAIT_SECONDS,
                                thread_local=False)
        self.heartbeat = max(0.2, min(LOCK_HEARTBEAT_SECONDS, seconds / 3))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildLock:
        if not self.lock.acquire():
            raise TimeoutError("another build held the build lock for too long")
        self._name_holder()
        self._thread = threading.Thread(target=self._heartbeat, name="build-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self.lock.reacquire()
                self._name_holder()
            except redis.exceptions.LockError:
                return
            except redis.exceptions.RedisError:
                continue  # Redis is restarting: the lock is in its append-only file; renew it on the next beat

    def _name_holder(self) -> None:
        if self.job_id and self.building_key:
            self.client.set(self.building_key, self.job_id, px=int(self.seconds * 1000))

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        try:
            self.lock.release()
        except redis.exceptions.LockError:
            pass
        except redis.exceptions.ConnectionError as exc:
            log.warning("could not release the build lock (%s): it expires within %g s", exc, self.seconds)
