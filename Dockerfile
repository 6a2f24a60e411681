# syntax=docker/dockerfile:1
# feedbot: build the wheel and install it with the pinned constraints in one stage, run it as a
# non-root user in a slim one.
#   docker build -t feedbot .
#   docker run --rm -v "$PWD/config.toml:/etc/feedbot/config.toml:ro" -e TELEGRAM_BOT_TOKEN feedbot check
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
COPY deploy/install.sh ./deploy/install.sh
RUN sh deploy/install.sh /src /opt/feedbot /tmp/wheels

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/feedbot --create-home \
        --shell /usr/sbin/nologin feedbot
COPY --from=build /opt/feedbot /opt/feedbot
ENV PATH=/opt/feedbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FEEDBOT_CONFIG=/etc/feedbot/config.toml \
    FEEDBOT_HEALTH_URL=http://127.0.0.1:9100/healthz
USER feedbot
WORKDIR /var/lib/feedbot
# /healthz, /readyz and /metrics, when the config has [http] listen = "0.0.0.0", port = 9100
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['FEEDBOT_HEALTH_URL'], timeout=4)"]
ENTRYPOINT ["feedbot"]
CMD ["run"]
