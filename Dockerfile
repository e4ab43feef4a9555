# syntax=docker/dockerfile:1
# soraweb: one image for the web server and the background worker (see docker-compose.yml).
#   docker build -t soraweb .
#   docker run ... soraweb web | worker | manage <command>

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the locked dependencies in a virtualenv (only the lock file, so code edits reuse this layer)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /venv \
 && /venv/bin/pip install --require-hashes --no-deps --requirement requirements.lock

# --- runtime: the virtualenv, the code and the collected static files, run as a non-root user
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=soraweb.settings \
    SORAWEB_PRODUCTION=1 \
    SORAWEB_DATA_DIR=/data \
    SORAWEB_STATIC_ROOT=/app/staticfiles \
    SORAWEB_PORT=8000
RUN groupadd --system --gid 10001 soraweb \
 && useradd --system --uid 10001 --gid soraweb --home-dir /app --shell /usr/sbin/nologin soraweb \
 && mkdir -p /data \
 && chown soraweb:soraweb /data
COPY --from=build /venv /venv
WORKDIR /app
COPY manage.py ./
COPY soraweb ./soraweb
COPY templates ./templates
COPY static ./static
COPY docker ./docker
# Hashed, pre-compressed static files are part of the image; the key only lets settings load.
RUN SORAWEB_SECRET_KEY=collectstatic-only-not-a-secret SORAWEB_DATA_DIR=/tmp/build \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/build
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
