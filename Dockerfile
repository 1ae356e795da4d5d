# The raretrace registry server. Build: docker build -t raretrace .
# Run with PostgreSQL and a witness: docker compose up (see compose.yaml and docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --system --uid 10001 --home-dir /data --create-home raretrace
COPY deploy ./deploy

USER raretrace
WORKDIR /data
EXPOSE 8000
# ready = database reachable, schema current, signing key loaded (GET /readyz)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
ENTRYPOINT ["raretrace"]
CMD ["serve", "--config", "/app/deploy/serve.toml"]
