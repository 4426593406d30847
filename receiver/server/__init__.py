"""The HTTP server the receiver runs in: gunicorn's settings (gunicorn_conf.py) and its worker
(worker.py), which reads each request in full (framing.py) before a thread sees it."""
