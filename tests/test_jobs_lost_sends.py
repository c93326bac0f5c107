"""Rebuild coalescing never joins a job that does not exist: a send that Redis refused (disk full:
MISCONF) or a waiting job that already finished. fakeredis and an in-memory Celery app."""

from __future__ import annotations

import uuid

import fakeredis
import pytest
import redis as redis_lib

from worker.queue import LOCK_WAIT_SECONDS, SEND_CLAIM_SECONDS, JobQueue, JobQueueUnavailable

MISCONF = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk"


@pytest.fixture
def client():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.fixture
def queue(client, celery_app, sent):
    return JobQueue(client, celery_app, f"t-{uuid.uuid4().hex[:6]}:")


def refuse(*args, **kwargs):
    raise redis_lib.exceptions.ResponseError(MISCONF)


class RefusingPipeline:
    """A pipeline that queues any command and refuses them all on execute."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: self

    def execute(self):
        refuse()


def refuse_writes(monkeypatch, client) -> None:
    """Redis accepts the coalescing key, then refuses every later write, as when its disk fills up."""
    monkeypatch.setattr(client, "pipeline", lambda *args, **kwargs: RefusingPipeline())
    monkeypatch.setattr(client, "eval", refuse)


def test_a_rebuild_whose_send_redis_refused_is_never_joined(queue, client, sent, monkeypatch):
    with monkeypatch.context() as refusing:
        refuse_writes(refusing, client)
        with pytest.raises(JobQueueUnavailable, match="refused the write"):
            queue.request_rebuild()
    assert client.ttl(queue.pending_key) <= SEND_CLAIM_SECONDS, "a lost send held the coalescing key for hours"
    job_id, coalesced = queue.request_rebuild()
    assert coalesced is False and [c["task_id"] for c in sent] == [job_id]
    assert queue.request_rebuild() == (job_id, True)
    assert client.ttl(queue.pending_key) > SEND_CLAIM_SECONDS and client.ttl(queue.pending_key) <= LOCK_WAIT_SECONDS


def test_a_waiting_job_that_already_finished_is_not_joined(queue, celery_app, sent):
    first, _ = queue.request_rebuild()
    celery_app.backend.store_result(first, RuntimeError("another build held the build lock"), "FAILURE")
    second, coalesced = queue.request_rebuild()
    assert second != first and coalesced is False
    assert [c["task_id"] for c in sent] == [first, second]


def test_a_waiting_job_without_a_record_is_not_joined(queue, client, sent):
    first, _ = queue.request_rebuild()
    client.delete(f"{queue.prefix}job:{first}")
    second, coalesced = queue.request_rebuild()
    assert second != first and coalesced is False
