# orgpulse: one image for the receiver (gunicorn) and, later, the poller sidecar.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orgpulse orgpulse
COPY receiver receiver
COPY pollers pollers
COPY fom fom
COPY dashboards dashboards
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --uid 10001 --no-create-home orgpulse && mkdir /data && chown orgpulse /data
USER 10001
WORKDIR /app
COPY receiver/gunicorn_conf.py /app/gunicorn.conf.py
ENV ORGPULSE_DATA_DIR=/data PYTHONUNBUFFERED=1
EXPOSE 8080
# gunicorn reads ./gunicorn.conf.py: gthread, 1 worker x 8 threads, 0.0.0.0:8080.
CMD ["gunicorn", "receiver:create_app()"]
