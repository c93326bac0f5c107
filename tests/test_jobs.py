"""JobQueue and BuildLock against fakeredis and an in-memory Celery app: no Redis server, no worker."""

from __future__ import annotations

import socket
import time
import uuid

import fakeredis
import pytest
from kombu.exceptions import OperationalError

import worker.queue as jobs
from worker.queue import JOBS_KEPT, LOCK_SECONDS, REBUILD_TASK, BuildLock, JobQueue, JobQueueUnavailable, redis_client


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def redis(server):
    return fakeredis.FakeRedis(server=server, decode_responses=True)


@pytest.fixture
def queue(redis, celery_app, sent):
    return JobQueue(redis, celery_app, f"t-{uuid.uuid4().hex[:6]}:")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- asking for jobs ----------------------------------------------------------------------------

def test_first_rebuild_request_queues_a_new_job(queue, sent):
    """A request with nothing waiting sends exactly one rebuild task under the job's id."""
    job_id, coalesced = queue.request_rebuild(reason="manual")
    assert coalesced is False
    assert [(c["name"], c["task_id"], c["kwargs"]) for c in sent] == [(REBUILD_TASK, job_id, {"reason": "manual"})]
    status = queue.status(job_id)
    assert status is not None and status.kind == "rebuild" and status.state == "PENDING"


def test_second_request_while_pending_joins_the_waiting_job(queue, sent):
    """Coalescing: clicks while a rebuild waits in the queue add no task."""
    first, _ = queue.request_rebuild()
    second, coalesced = queue.request_rebuild()
    assert second == first and coalesced is True
    assert len(sent) == 1


def test_request_after_the_job_took_the_lock_makes_a_new_job(queue, sent):
    """Once the waiting job starts building, the next click must give one more build."""
    first, _ = queue.request_rebuild()
    queue.stop_waiting(first)
    second, coalesced = queue.request_rebuild()
    assert second != first and coalesced is False
    assert [c["task_id"] for c in sent] == [first, second]


def test_stop_waiting_with_another_id_keeps_the_pending_job(queue):
    """A late stop_waiting from an older job must not clear a newer waiting one."""
    waiting, _ = queue.request_rebuild()
    queue.stop_waiting(str(uuid.uuid4()))
    again, coalesced = queue.request_rebuild()
    assert again == waiting and coalesced is True


def test_catalog_builds_are_never_coalesced(queue, sent):
    """Each upload is different data: two uploads are two jobs, and neither joins a waiting rebuild."""
    rebuild, _ = queue.request_rebuild()
    first = queue.request_catalog_build("a" * 32, {"items": "a.csv"})
    second = queue.request_catalog_build("b" * 32, {"items": "b.csv"})
    assert len({rebuild, first, second}) == 3
    assert [c["kwargs"] for c in sent[1:]] == [{"upload_id": "a" * 32, "mode": "replace"},
                                               {"upload_id": "b" * 32, "mode": "replace"}]
    assert queue.status(first).kind == "upload" and queue.status(first).details == {"items": "a.csv"}
    assert queue.request_rebuild() == (rebuild, True), "an upload must not clear the waiting rebuild"


def test_failed_send_does_not_leave_a_pending_rebuild(queue, celery_app, monkeypatch):
    """If the broker refuses the task, the next request must queue afresh instead of joining a ghost."""
    def refuse(*args, **kwargs):
        raise OperationalError("broker went away")
    monkeypatch.setattr(celery_app, "send_task", refuse)
    with pytest.raises(JobQueueUnavailable):
        queue.request_rebuild()
    monkeypatch.undo()
    _, coalesced = queue.request_rebuild()
    assert coalesced is False


def test_failed_send_is_not_listed_as_a_queued_job(queue, celery_app, monkeypatch):
    """A task that never reached the broker would show 'queued' (and poll) forever in /admin."""
    def refuse(*args, **kwargs):
        raise OperationalError("broker went away")
    monkeypatch.setattr(celery_app, "send_task", refuse)
    with pytest.raises(JobQueueUnavailable):
        queue.request_catalog_build("/data/uploads/x", {"items": "x.csv"})
    listed = [(job.kind, job.state) for job in queue.recent()]
    assert listed == [], f"a job that was never sent is listed: {listed}"


# -- reporting ----------------------------------------------------------------------------------

def test_recent_lists_newest_first_and_keeps_at_most_jobs_kept(queue):
    """The job list is bounded; the newest request is at the top."""
    ids = [queue.request_catalog_build(f"/u/{i}", {}) for i in range(JOBS_KEPT + 3)]
    listed = [job.job_id for job in queue.recent(n=JOBS_KEPT + 10)]
    assert listed == list(reversed(ids))[:JOBS_KEPT]
    assert [job.job_id for job in queue.recent(n=3)] == list(reversed(ids))[:3]


def test_status_of_unknown_job_is_none(queue):
    """An id the queue never issued is reported as missing, not as a pending job."""
    queue.request_rebuild()
    assert queue.status(str(uuid.uuid4())) is None


def test_status_of_a_pending_job_is_queued(queue):
    job_id, _ = queue.request_rebuild()
    status = queue.status(job_id)
    assert (status.state, status.stage, status.progress, status.finished) == ("PENDING", "queued", 0, False)


def test_status_reports_progress_meta(queue, celery_app):
    """The worker's update_state meta is what the progress bar shows."""
    job_id, _ = queue.request_rebuild()
    celery_app.backend.store_result(job_id, {"stage": "index", "progress": 40}, "PROGRESS")
    queue.redis.set(queue.building_key, job_id)
    status = queue.status(job_id)
    assert (status.state, status.stage, status.progress, status.finished) == ("PROGRESS", "index", 40, False)


def test_a_build_whose_worker_died_reports_failure(queue, celery_app):
    """Past the lock, a job that no live worker names as its build has lost its worker."""
    job_id, _ = queue.request_rebuild()
    celery_app.backend.store_result(job_id, {"stage": "index", "progress": 40}, "PROGRESS")
    queue.redis.set(queue.building_key, "another-job")
    status = queue.status(job_id)
    assert status.state == "FAILURE" and status.finished and "worker" in status.error


def test_a_job_waiting_for_the_lock_is_not_reported_lost(queue, celery_app):
    job_id, _ = queue.request_rebuild()
    celery_app.backend.store_result(job_id, {"stage": "waiting for the build lock", "progress": 1}, "PROGRESS")
    assert queue.status(job_id).state == "PROGRESS"


def test_status_of_success_is_complete_with_the_version(queue, celery_app):
    job_id, _ = queue.request_rebuild()
    version = f"v-{uuid.uuid4().hex[:6]}"
    celery_app.backend.store_result(job_id, {"index_version": version}, "SUCCESS")
    status = queue.status(job_id)
    assert (status.state, status.progress, status.index_version, status.finished) == ("SUCCESS", 100, version, True)
    assert status.as_dict()["index_version"] == version


def test_status_of_failure_carries_the_exception_message(queue, celery_app):
    """The admin sees why a build failed, not just that it did."""
    job_id, _ = queue.request_rebuild()
    message = f"the catalog is not valid: {uuid.uuid4().hex}"
    celery_app.backend.mark_as_failure(job_id, RuntimeError(message))
    status = queue.status(job_id)
    assert status.state == "FAILURE" and status.finished and status.stage == "failed"
    assert message in status.error


# -- Redis down ---------------------------------------------------------------------------------

def test_unreachable_redis_raises_unavailable_quickly(celery_app):
    """An admin click with Redis down answers 'unavailable' at once instead of hanging."""
    queue = JobQueue(redis_client(f"redis://127.0.0.1:{closed_port()}/0"), celery_app, "t:")
    started = time.monotonic()
    with pytest.raises(JobQueueUnavailable, match="job queue unavailable"):
        queue.request_rebuild()
    with pytest.raises(JobQueueUnavailable):
        queue.recent()
    assert time.monotonic() - started < 5


# -- the build lock -----------------------------------------------------------------------------

def test_build_lock_is_exclusive_until_released(redis):
    """One build at a time: a second holder waits, and gets the lock once the first is done."""
    first = BuildLock(redis, "t:build-lock")
    second = BuildLock(redis, "t:build-lock")
    second.lock.blocking_timeout = 0.2
    with first:
        with pytest.raises(TimeoutError):
            second.__enter__()
    with second:
        assert redis.get("t:build-lock") is not None
    assert redis.get("t:build-lock") is None


def test_build_lock_expires_if_its_holder_dies(queue):
    """A killed worker never releases: the key's TTL bounds how long it blocks builds."""
    lock = queue.build_lock()
    lock.__enter__()
    try:
        ttl_ms = queue.redis.pttl(queue.lock_key)
        assert 0 < ttl_ms <= LOCK_SECONDS * 1000
    finally:
        lock.__exit__(None, None, None)


def test_build_lock_heartbeat_renews_the_ttl(queue, monkeypatch):
    """A build longer than LOCK_SECONDS keeps its lock because the heartbeat extends it."""
    monkeypatch.setattr(jobs, "LOCK_HEARTBEAT_SECONDS", 0.05)
    with queue.build_lock():
        queue.redis.pexpire(queue.lock_key, 1000)
        deadline = time.monotonic() + 2
        while queue.redis.pttl(queue.lock_key) <= 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.redis.pttl(queue.lock_key) > 1000


def test_build_lock_heartbeat_renews_again_once_redis_is_back(queue, server, monkeypatch):
    """Redis restarting (its keys kept in the append-only file) does not end the heartbeat."""
    monkeypatch.setattr(jobs, "LOCK_HEARTBEAT_SECONDS", 0.05)
    with queue.build_lock() as lock:
        server.connected = False
        time.sleep(lock.heartbeat * 2.5)  # two beats meet a Redis that is down
        server.connected = True
        queue.redis.pexpire(queue.lock_key, 1000)
        deadline = time.monotonic() + 2
        while queue.redis.pttl(queue.lock_key) <= 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.redis.pttl(queue.lock_key) > 1000


def test_a_build_lock_redis_cannot_release_is_left_to_expire(queue, server):
    """A build that finished while Redis was down still finishes: its lock expires on its own."""
    lock = queue.build_lock()
    lock.__enter__()
    server.connected = False
    try:
        lock.__exit__(None, None, None)
    finally:
        server.connected = True
    assert 0 < queue.redis.pttl(queue.lock_key) <= LOCK_SECONDS * 1000


def test_prefix_isolates_queues(server, celery_app):
    """Two deployments sharing one Redis see neither each other's jobs nor each other's lock."""
    a = JobQueue(fakeredis.FakeRedis(server=server, decode_responses=True), celery_app, "a:")
    b = JobQueue(fakeredis.FakeRedis(server=server, decode_responses=True), celery_app, "b:")
    job_a, _ = a.request_rebuild()
    assert b.recent() == [] and b.status(job_a) is None
    job_b, coalesced = b.request_rebuild()
    assert job_b != job_a and coalesced is False
    assert [j.job_id for j in a.recent()] == [job_a]
    lock_a, lock_b = a.build_lock(), b.build_lock()
    lock_b.lock.blocking_timeout = 0.2
    with lock_a, lock_b:
        assert a.lock_key != b.lock_key and a.redis.exists(a.lock_key, b.lock_key) == 2


def test_an_automatic_rebuild_waits_for_a_quiet_period_but_not_past_the_ceiling(queue, redis, sent):
    first = queue.request_rebuild_after(quiet=5, ceiling=60)
    assert first is not None and queue.request_rebuild_after(quiet=5, ceiling=60) is None
    now = time.time()
    assert 4 < queue.auto_rebuild_wait(5, 60, now=now) <= 5  # a change just came: wait for the quiet
    assert queue.auto_rebuild_wait(5, 60, now=now + 6) == 0  # quiet for 5 s: build
    redis.set(queue.dirty_since_key, repr(now - 59.5))
    assert queue.auto_rebuild_wait(5, 60, now=now) <= 0.5  # changes keep coming: the ceiling wins
    later = queue.defer_auto_rebuild(first, 3)
    assert redis.get(queue.auto_key) == later and queue.status(first) is None
    assert [call["countdown"] for call in sent] == [5, 3]
    queue.auto_rebuild_starts(later)
    assert queue.request_rebuild_after(quiet=5, ceiling=60) is not None  # the next change schedules again
