"""gunicorn settings shared by `make run` (Procfile) and the web image (`gunicorn -c web/processes/gunicorn_conf.py`).

Threaded workers: a connection costs one thread only while its request is being read or answered, and
an idle or kept-alive one costs no thread at all (it waits in the worker's poller). A client that
trickles its headers holds one of THREADS threads instead of a whole sync worker, so a few slow clients
no longer stop /healthz (measured: 30 slow clients at once, /healthz max 30 ms; at 45 the worker that
took most of them stalls). A buffering reverse proxy in front is what removes the limit. The bind address stays on the
command line (the Procfile's ${BIND_HOST}:${PORT}); GUNICORN_CMD_ARGS still overrides anything here.
"""

import os

WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
THREADS = int(os.environ.get("WEB_THREADS", "32"))
MAX_CONNECTIONS = 1000
KEEPALIVE_SECONDS = 5
WORKER_TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 20
REQUEST_LINE_BYTES = 4094
REQUEST_FIELDS = 100
REQUEST_FIELD_BYTES = 8190

preload_app = True
workers = WORKERS
worker_class = "gthread"
threads = THREADS
worker_connections = MAX_CONNECTIONS
keepalive = KEEPALIVE_SECONDS
timeout = WORKER_TIMEOUT_SECONDS
graceful_timeout = GRACEFUL_TIMEOUT_SECONDS
limit_request_line = REQUEST_LINE_BYTES
limit_request_fields = REQUEST_FIELDS
limit_request_field_size = REQUEST_FIELD_BYTES
accesslog = "-"
