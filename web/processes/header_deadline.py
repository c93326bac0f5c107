"""gunicorn's threaded worker, with a deadline for request headers.

gthread gives a connection a thread as soon as its first bytes arrive, and that thread reads the headers
with blocking reads: a client that trickles them holds the thread as long as it likes. This worker gives
each request REQUEST_HEADER_SECONDS from when its connection was handed to a thread (or kept alive for
it) to finish its headers. Past that the worker's main loop shuts the socket down, which ends the
thread's read, and the thread is free for the next connection. Request bodies are not covered: a
buffering reverse proxy in front (as docker-compose.yml has) is what protects those.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from gunicorn.workers.gthread import ThreadWorker

from recommender.limits import REQUEST_HEADER_SECONDS


class HeaderDeadlineWorker(ThreadWorker):
    """ThreadWorker that closes connections whose request headers are late."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._header_deadlines: dict = {}
        self._deadlines_lock = threading.Lock()

    def enqueue_req(self, conn):
        """A connection about to be read gets its deadline (kept when it returns from the poller)."""
        with self._deadlines_lock:
            self._header_deadlines.setdefault(conn, time.monotonic() + REQUEST_HEADER_SECONDS)
        super().enqueue_req(conn)

    def handle_request(self, req, conn):
        """The headers are in: this request is no longer on the clock."""
        with self._deadlines_lock:
            self._header_deadlines.pop(conn, None)
        return super().handle_request(req, conn)

    def murder_pending(self):
        """Runs on every turn of the main loop (at least once a second)."""
        super().murder_pending()
        self.end_late_headers()

    def end_late_headers(self) -> None:
        """Shut down every connection past its deadline; a thread reading it then sees the end."""
        now = time.monotonic()
        with self._deadlines_lock:
            late = [conn for conn, deadline in self._header_deadlines.items() if deadline <= now]
            for conn in late:
                del self._header_deadlines[conn]
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
