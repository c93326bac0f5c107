"""gunicorn settings shared by `make run` (Procfile) and the web image (`gunicorn -c web/processes/gunicorn_conf.py`).

Threaded workers: a connection costs one thread only while its request is being read or answered, and
an idle or kept-alive one costs no thread at all (it waits in the worker's poller). A client that
trickles its headers holds one thread until its headers are due (web/processes/header_deadline.py closes it
REQUEST_HEADER_SECONDS after it was handed to a thread), so each process has THREADS threads, more than
the slow clients one process may be handed at once: measured, 200 sockets trickling 1 byte/s leave
/healthz answering in milliseconds (with 32 threads, 64 such sockets stopped it). A buffering reverse
proxy in front is what removes the limit. The bind address stays on the
command line (the Procfile's ${BIND_HOST}:${PORT}); GUNICORN_CMD_ARGS still overrides anything here.

gunicorn's control socket (for `gunicornc`) is by default one path per user, ~/.gunicorn/gunicorn.ctl:
a second gunicorn took it over and the first one's exit removed it. Each instance gets its own, under
$LIKEWISE_DATA_DIR/run/ and named by host and port, unless --control-socket chose one.
"""

import os
import socket

from gunicorn.config import ControlSocket

WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
THREADS = int(os.environ.get("WEB_THREADS", "256"))
MAX_CONNECTIONS = 1000
KEEPALIVE_SECONDS = 5
WORKER_TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 20
REQUEST_LINE_BYTES = 4094
REQUEST_FIELDS = 100
REQUEST_FIELD_BYTES = 8190

preload_app = True
workers = WORKERS
worker_class = "web.processes.header_deadline.HeaderDeadlineWorker"
threads = THREADS
worker_connections = MAX_CONNECTIONS
keepalive = KEEPALIVE_SECONDS
timeout = WORKER_TIMEOUT_SECONDS
graceful_timeout = GRACEFUL_TIMEOUT_SECONDS
limit_request_line = REQUEST_LINE_BYTES
limit_request_fields = REQUEST_FIELDS
limit_request_field_size = REQUEST_FIELD_BYTES
accesslog = "-"


CONTROL_SOCKET_DIR = "run"


def control_socket_path(data_dir: str, host: str, address) -> str:
    """This instance's control socket: by host (a data dir may be shared) and bound port (or pid)."""
    name = address[1] if isinstance(address, tuple) else f"pid{os.getpid()}"
    return os.path.join(os.path.abspath(data_dir), CONTROL_SOCKET_DIR, f"gunicorn-{host}-{name}.ctl")


def when_ready(server):
    """Listeners are bound now and the control socket is not yet started: give it its own path."""
    if server.cfg.control_socket != ControlSocket.default or not server.LISTENERS:
        return
    data_dir = os.environ.get("LIKEWISE_DATA_DIR", "var")
    server.cfg.set("control_socket", control_socket_path(data_dir, socket.gethostname(),
                                                         server.LISTENERS[0].getsockname()))
