"""gunicorn settings for the receiver (also loaded by the repo's gunicorn.conf.py).

One worker process with threads: webhook handling is short and I/O-light, and
a single process per pod means the delivery dedup cache sees every delivery
that reaches the pod. Scale out with replicas, not workers.

The worker is gthread with its main loop reading every request in full before a
thread sees it (receiver/server/worker.py): slow clients cost a buffer, not a thread, and a
request not complete within receiver.request_deadline_seconds gets 408 (measured in
bench/slow_clients.py against plain gthread).
"""

wsgi_app = "receiver:create_app()"
bind = "0.0.0.0:8080"
worker_class = "receiver.server.worker.BufferingWorker"
workers = 1
threads = 8
# GitHub and Asana give up after 10 s (GHES 30 s); a request still running at
# 30 s is stuck, so the worker is recycled rather than left hanging.
timeout = 30
# Longer than receiver.request_deadline_seconds: on SIGTERM every request already
# arriving is read, answered and closed before the worker exits.
graceful_timeout = 20
# Behind an Ingress/ALB that keeps connections open: longer than its idle reuse.
keepalive = 75
# orgpulse logs one JSON line per delivery itself; the access log would double it.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Bounded request line/headers; the body limit is ORGPULSE_MAX_BODY_BYTES.
limit_request_line = 8190
limit_request_fields = 100
