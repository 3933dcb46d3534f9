# predwatch worker image: `predwatch worker` by default; the same image runs `predwatch simulate`
# and every other command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREDWATCH_WEB_PORT=6066 \
    PREDWATCH_STATE_DIR=/var/lib/predwatch \
    HF_HUB_OFFLINE=1

RUN useradd --create-home --uid 10001 predwatch \
 && mkdir -p /var/lib/predwatch && chown predwatch /var/lib/predwatch

WORKDIR /src
# Only the packages (no .venv, tests or generated state) go into the image.
COPY pyproject.toml README.md ./
COPY streams/ streams/
COPY agents/ agents/
COPY detectors/ detectors/
COPY registry/ registry/
COPY evaluation/ evaluation/
COPY grafana/ grafana/
RUN pip install . && rm -rf /src/build

WORKDIR /home/predwatch
USER predwatch
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=3)"]
CMD ["predwatch", "worker"]
