# The smartpole image: one image, one command per service.
#   docker run IMAGE ingest        an ingest worker (scale by running more)
#   docker run IMAGE api           the REST API on SMARTPOLE_API_HOST:SMARTPOLE_API_PORT
#   docker run IMAGE db migrate    create or upgrade the schema
# Configuration is SMARTPOLE_* environment variables (README: Configuration).

# The public map and the API docs' assets (README: Public map), from web/package-lock.json.
FROM node:20.18.1-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json web/build.mjs ./
COPY web/src ./src
RUN SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund && node build.mjs

# Pinned, so a rebuild gets the same interpreter and OS packages.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
# Exactly the locked versions, each checked against its hash (README: Reproducible
# installs): pip and setuptools first, then the dependencies, then smartpole itself
# without resolving anything.
COPY requirements/build.lock requirements/runtime.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/build.lock \
    && pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY models ./models
COPY config ./config
COPY storage ./storage
COPY brokerauth ./brokerauth
COPY inventory ./inventory
COPY airquality ./airquality
COPY ingest ./ingest
COPY api ./api
COPY sta_mqtt ./sta_mqtt
COPY simulators ./simulators
COPY dashboards ./dashboards
COPY smartpole ./smartpole
# The runtime stage installs these wheels without a compiler or network access.
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SMARTPOLE_API_HOST=0.0.0.0 \
    SMARTPOLE_API_WEB_DIR=/opt/smartpole/web \
    SMARTPOLE_LOG_FORMAT=json
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent smartpole
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && pip check && rm -rf /wheels
COPY --from=web /web/dist /opt/smartpole/web
# Nothing in the container needs root; the services only open outgoing
# connections and (api) one port above 1024.
USER smartpole
EXPOSE 8000
# SIGTERM (docker stop) makes ingest flush and ack what it holds: give it time
# with `stop_grace_period` (docker-compose.yml) rather than killing it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["smartpole"]
CMD ["api"]
