"""web.processes.supervisor with real processes: the Procfile parsed with clear errors, a dead process started
again with back-off while the others keep running, output prefixed, and everything stopped on request
(SIGKILL for a process that ignores SIGTERM)."""

from __future__ import annotations

import io
import os
import subprocess
import threading

import pytest

from tests.helpers.processes import ROOT
from web.processes import supervisor
from web.processes.supervisor import ProcfileError, Supervisor, parse_procfile, restart_delay


def run_for(sup: Supervisor, seconds: float) -> int:
    timer = threading.Timer(seconds, sup.request_stop)
    timer.start()
    try:
        return sup.run()
    finally:
        timer.cancel()


def test_the_projects_procfile_names_every_process():
    commands = parse_procfile(ROOT / "Procfile")
    assert list(commands) == ["web", "worker", "flower", "beat"]
    assert commands["worker"].startswith("celery --app worker.celery_app worker")


@pytest.mark.parametrize("text, problem", [
    ("# comment\nweb gunicorn app\n", "line 2: expected 'name: command'"),
    ("# comment\nweb:\n", "line 2: process 'web' has no command"),
    ("web: gunicorn app\n\nweb: gunicorn other\n", "line 3: process 'web' is defined twice"),
    ("we b: gunicorn app\n", "line 1: expected 'name: command'"),
])
def test_bad_procfile_lines_are_named(tmp_path, text, problem):
    path = tmp_path / "Procfile"
    path.write_text(text)
    with pytest.raises(ProcfileError) as error:
        parse_procfile(path)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_back_off_doubles_to_a_ceiling_and_resets_after_a_long_run():
    delays = [restart_delay(None, 0.1)]
    for _ in range(8):
        delays.append(restart_delay(delays[-1], 0.1))
    assert delays[:6] == [1, 2, 4, 8, 16, 30] and set(delays[5:]) == {30}
    assert restart_delay(30, supervisor.STABLE_SECONDS + 1) == 1


def test_a_dead_process_is_started_again_while_the_others_keep_running(tmp_path):
    out = io.StringIO()
    sup = Supervisor({"flaky": "sh -c 'echo flaky up; exit 3'", "steady": f"sh -c 'echo $$ > {tmp_path}/pid; "
                      "echo steady up; exec sleep 60'"}, dict(os.environ), tmp_path, out)
    assert run_for(sup, 3.6) == 0
    flaky, steady = sup.children
    text = out.getvalue()
    assert flaky.starts == 3, text  # at 0 s, after 1 s, after 2 s more
    assert steady.starts == 1, text
    assert "flaky exited with code 3; starting it again in 1 s" in text
    assert "flaky exited with code 3; starting it again in 2 s" in text
    assert [line.split(" ", 1)[1] for line in text.splitlines() if "up" in line].count("flaky  | flaky up") == 3
    assert "steady | steady up" in text
    assert steady.process.poll() is not None
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_process_that_ignores_sigterm_is_killed_after_the_stop_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "STOP_SECONDS", 1.0)
    out = io.StringIO()
    sup = Supervisor({"stubborn": "sh -c \"trap '' TERM; echo ready; while :; do sleep 0.1; done\""},
                     dict(os.environ), tmp_path, out)
    assert run_for(sup, 1.0) == 0
    assert sup.children[0].process.poll() is not None
    assert "stubborn did not stop within 1 s: killing it" in out.getvalue()


def test_an_adopted_process_is_started_again_and_stopped_after_the_others(tmp_path):
    """The embedded Redis is started by the launcher, handed over, restarted like the others and
    stopped last (the others use it while they stop)."""
    out = io.StringIO()
    adopted = subprocess.Popen(["sh", "-c", "exit 5"], process_group=0)
    sup = Supervisor({"steady": "sh -c 'exec sleep 60'"}, dict(os.environ), tmp_path, out)
    sup.adopt("redis", "sh -c 'echo redis again; exec sleep 60'", adopted)
    assert run_for(sup, 2.5) == 0
    steady, redis = sup.children
    text = out.getvalue()
    assert "redis exited with code 5; starting it again in 1 s" in text, text
    assert redis.starts == 2 and "redis  | redis again" in text, text
    assert steady.process.poll() is not None and redis.process.poll() is not None
    assert text.index("steady stopped") < text.index("redis stopped"), text
