# Build a wheel in one stage, install it into a slim runtime that runs as a non-root user.
# The base is pinned to an exact release (bump it deliberately, e.g. with Dependabot/Renovate);
# pin it by digest as well (python:3.11.14-slim-bookworm@sha256:...) where your registry policy asks.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY adapters adapters
COPY bot bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 --user-group oncall \
 && mkdir -p /data && chown oncall:oncall /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /home/oncall
ENV ONCALL_ACCESS_DATABASE_URL=sqlite+aiosqlite:////data/oncall-access.db \
    PORT=3000
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz', timeout=4)"]
ENTRYPOINT ["oncall-access"]
CMD ["serve"]
