"""One background thread per process for an object that must poll (a model holder, a flusher...).

The thread holds its owner only weakly, so an owner that is dropped (an app that is discarded) takes
its thread with it instead of leaving it polling forever; and it is started again in a process forked
after it (gunicorn --preload), where threads do not survive.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

log = logging.getLogger(__name__)


def _loop(owner_ref: weakref.ref, tick: str, interval: float, wake: threading.Event, name: str) -> None:
    while True:
        wake.wait(interval)
        wake.clear()
        owner = owner_ref()
        if owner is None:
            return
        try:
            getattr(owner, tick)()
        except Exception:  # the thread must outlive any one bad round; the error is logged
            log.exception("%s failed", name)
        del owner


class ProcessThread:
    """Calls `owner.<tick>()` every `interval` seconds (or when woken) in one daemon thread per process."""

    def __init__(self, owner, tick: str, interval: float, name: str):
        self._owner = weakref.ref(owner)
        self.tick, self.interval, self.name = tick, interval, name
        self.wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _running(self) -> bool:
        return self._pid == os.getpid() and self._thread is not None and self._thread.is_alive()

    def ensure(self) -> None:
        if self._running():
            return
        with self._lock:
            if self._running():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=_loop, name=self.name, daemon=True,
                                             args=(self._owner, self.tick, self.interval, self.wake, self.name))
            self._thread.start()
