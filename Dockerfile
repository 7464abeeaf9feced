# The one image of mailtrail: the web site (gunicorn + whitenoise) and the follower run from it
# with different commands (docker-compose.yml). Production points DATABASE_URL at PostgreSQL.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext: compile the translations at build time; gcc: the ingester's compiled fast paths
# (ingest/_*.pyx, built by `pip install .`; removed again once they are built)
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml setup.py README.md alembic.ini manage.py ./
COPY mailtrail ./mailtrail
COPY ingest ./ingest
COPY webui ./webui
COPY migrations ./migrations
COPY deploy ./deploy
RUN pip install . \
    && python -m ingest --version | grep -q "compiled: " \
    && apt-get purge -y --auto-remove gcc libc6-dev

# Static files and translations are built into the image; the settings need a secret and a
# database URL to load, not to be used, so throwaway values do here (a random key: the
# settings refuse a short or well-known one).
RUN export DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        DATABASE_URL=postgresql://build@localhost/build \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && python manage.py compilemessages --verbosity 0

# Uid 10001, no shell, no home: nothing in the container runs as root.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mailtrail
USER mailtrail

ENV MAILTRAIL_BIND=0.0.0.0:8000
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
