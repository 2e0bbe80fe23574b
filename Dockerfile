# Zhongshu (订单中枢): one image for every process — `zhongshu api` (default), `zhongshu worker`,
# `zhongshu console`, `zhongshu db migrate`. See docker-compose.yml for the topology.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The product's source, explicitly (never the working tree: no .venv, var/, .env or .git in the image,
# and not devtools/ — the development harness and its fake partners stay out of production).
COPY zhongshu/ zhongshu/
COPY domain/ domain/
COPY store/ store/
COPY workflows/ workflows/
COPY activities/ activities/
COPY workers/ workers/
COPY api/ api/
COPY console/ console/
COPY devices/ devices/
COPY rules/ rules/

# Installed in place (editable): the code finds its data next to it (store/migrations,
# rules/default_rules.xlsx, console/pages_), which a plain wheel would leave behind.
# Bytecode now: the workflow sandbox imports workflows/ afresh for every run, and with
# PYTHONDONTWRITEBYTECODE (and a tree the worker's user cannot write) it would compile it every time.
RUN pip install --no-deps -e . \
    && python -m compileall -q zhongshu domain store workflows activities workers api console devices \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin zhongshu \
    && mkdir -p /app/var \
    && chown zhongshu:zhongshu /app/var

USER zhongshu

ENV ZHONGSHU_VAR_DIR=/app/var \
    ZHONGSHU_API_HOST=0.0.0.0

EXPOSE 8000 8501

CMD ["zhongshu", "api"]
