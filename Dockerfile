# orgpulse: one image for both containers of the chart's pod (chart/orgpulse).
# Default command: the receiver — gunicorn with its config baked in (/app/gunicorn.conf.py:
# gthread, 0.0.0.0:8080). The chart runs the poller with `orgpulse poll` and probes it with
# `orgpulse probe poller`.
#
# No container engine runs here, so tests/chart/test_image.py performs these steps (a fresh venv,
# the same pip install, the same files and ENV) and runs the exact commands and environment
# the chart renders. It understands the instructions used below; a new kind of step must be
# taught to it.

# Pinned by version tag (no registry here to resolve a digest); same tag in both stages.
FROM python:3.11.13-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY orgpulse orgpulse
COPY receiver receiver
COPY pollers pollers
COPY fom fom
COPY dashboards dashboards
# orgpulse's wheel, built by a pinned build backend (inside pyproject's [build-system] range,
# which --check-build-dependencies enforces) rather than by whatever setuptools is newest on the
# day of the build; its build venv stays in this stage.
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir --quiet setuptools==84.2.1 \
 && /opt/build/bin/pip wheel --no-cache-dir --quiet --no-deps --no-build-isolation --check-build-dependencies --wheel-dir /wheels .
# A venv without pip: the build stage's pip installs into it, so the image that runs carries
# no installer. Every dependency is a pure-Python or manylinux wheel: no compiler needed.
# constraints.txt pins every dependency's version (`make constraints`): each build resolves
# the same ones.
RUN python -m venv --without-pip /opt/orgpulse \
 && pip --python /opt/orgpulse/bin/python install --no-cache-dir --constraint constraints.txt /wheels/orgpulse-*.whl

FROM python:3.11.13-slim-bookworm
# The base image's pip, setuptools and wheel are build tools: not in the image that runs.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin orgpulse \
 && mkdir /data \
 && chown 10001:10001 /data
COPY --from=build /opt/orgpulse /opt/orgpulse
COPY receiver/server/gunicorn_conf.py /app/gunicorn.conf.py
WORKDIR /app
# The root filesystem is read-only in the chart: bytecode was compiled at install, HOME and
# temporary files live in /tmp (an emptyDir), state in /data (an emptyDir).
ENV PATH=/opt/orgpulse/bin:$PATH ORGPULSE_DATA_DIR=/data HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080
CMD ["gunicorn", "receiver:create_app()"]
