# `gunicorn` run from the repository root reads this file: the receiver's settings.
from receiver.server.gunicorn_conf import *  # noqa: F403
