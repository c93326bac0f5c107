"""gunicorn settings shared by `make run` (Procfile) and the web image (`gunicorn -c web/gunicorn_conf.py`).

Threaded workers: a connection costs one thread only while its request is being read or answered, and
an idle or kept-alive one costs no thread at all (it waits in the worker's poller). A client that
trickles its headers holds one thread until its headers are due (web/header_deadline.py closes it
REQUEST_HEADER_SECONDS after it was handed to a thread), so each process has THREADS threads, more than
the slow clients one process may be handed at once: measured, 200 sockets trickling 1 byte/s leave
/healthz answering in milliseconds (with 32 threads, 64 such sockets stopped it). A buffering reverse
proxy in front is what removes the limit. The bind address stays on the
command line (the Procfile's ${BIND_HOST}:${PORT}); GUNICORN_CMD_ARGS still overrides anything here.
"""

import os

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
worker_class = "web.header_deadline.HeaderDeadlineWorker"
threads = THREADS
worker_connections = MAX_CONNECTIONS
keepalive = KEEPALIVE_SECONDS
timeout = WORKER_TIMEOUT_SECONDS
graceful_timeout = GRACEFUL_TIMEOUT_SECONDS
limit_request_line = REQUEST_LINE_BYTES
limit_request_fields = REQUEST_FIELDS
limit_request_field_size = REQUEST_FIELD_BYTES
accesslog = "-"
