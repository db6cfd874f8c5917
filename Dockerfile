# One image for web, worker and gpu-worker; docker-compose.yml picks the command.
# PyPI's Linux torch wheel bundles the CUDA runtime, so the same image trains on a GPU when the
# container is given one (NVIDIA Container Toolkit on the host) and falls back to CPU otherwise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STEWARD_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# curl: the compose health check of the web service.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Requirements first, so code changes do not reinstall the (large) dependency layer.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Settings put STATIC_ROOT under the data dir (/data/static), so collected files land in the
# image's /data and seed the data volume on its first use; the compose `release` service runs
# collectstatic again on every deploy because an existing volume hides the image's copy.
# The throwaway key and broker URL keep settings from writing a key file or a filesystem-broker
# folder into the image; neither is used at run time.
RUN STEWARD_SECRET_KEY=collectstatic-build-only CELERY_BROKER_URL=redis://build-only:6379/0 \
    python manage.py collectstatic --noinput

# Code stays root-owned (read-only for the app); only the data dir is writable.
RUN groupadd --system --gid 1000 steward \
    && useradd --system --uid 1000 --gid steward --home-dir /home/steward --create-home steward \
    && mkdir -p /data \
    && chown -R steward:steward /data
USER steward

VOLUME ["/data"]
EXPOSE 8000

ENV STEWARD_BIND=0.0.0.0:8000
CMD ["gunicorn", "-c", "serving/gunicorn_conf.py", "config.wsgi:application"]
