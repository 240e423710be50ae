FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
COPY schema ./schema
COPY workers ./workers
COPY migrations ./migrations
RUN pip install .
RUN useradd --system --uid 10001 recordings
USER recordings
EXPOSE 8000
CMD ["recordings", "serve"]
