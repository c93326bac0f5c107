"""The Likewise worker: Celery tasks that build and publish index versions.

`worker.queue` (task names, Celery wiring, the job queue) is shared with the web tier; `worker.app`
is the worker's own slim app; `worker.tasks` runs the jobs.
"""
