# finseg: the gRPC service on an embedded LMDB store.
#
# Production (the default target): TLS and token verification are not
# optional outside development, so the container reads four
# secrets from /run/secrets, e.g. a folder mounted there read-only:
#   docker build -t finseg .
#   docker run -p 50051:50051 -v finseg-data:/data -v "$PWD/secrets:/run/secrets:ro" finseg
# The files (README "Container" shows how to make them):
#   finseg-tls.crt  the server's certificate chain (PEM); it must name
#                   "finseg", the name the health check below expects
#   finseg-tls.key  its private key (PEM, unencrypted)
#   finseg-ca.crt   the CA certificate that signed it, for the health check
#   finseg-jwt-key  the key tokens are verified with: an HS256 secret of at
#                   least 32 bytes (for RS256 or ES256 a PEM public key and
#                   a `--jwt-algorithm` in an overriding command)
# The service runs as uid 10001: the files must be readable by it.
#
# Development: plaintext and no tokens, every call acting as tenant "dev"
# with every scope. Never where anyone else can reach the port:
#   docker build --target dev -t finseg-dev .
#   docker run -p 127.0.0.1:50051:50051 -v finseg-dev-data:/data finseg-dev
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # numba writes compiled kernels here; it must be writable by the service
    # user and is filled at build time (see the warm-up step below).
    NUMBA_CACHE_DIR=/var/cache/finseg/numba

WORKDIR /app

# Dependencies in their own layer: read from the two pyproject.toml files
# alone, so a code change does not reinstall numpy, numba, grpcio and
# pyarrow. Only [project] dependencies: none of the extras (test, lint and
# bench tools); finseg-client is ./client, installed below, never the index's.
COPY pyproject.toml ./
COPY client/pyproject.toml ./client/
RUN python -c "import tomllib; print('\n'.join(d for p in ('pyproject.toml', 'client/pyproject.toml') for d in tomllib.load(open(p, 'rb'))['project']['dependencies'] if not d.startswith('finseg-client')))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY README.md LICENSE ./
COPY protos ./protos
COPY server ./server
COPY client ./client
RUN pip install --no-deps ./client . \
 && groupadd --system --gid 10001 finseg \
 && useradd --system --uid 10001 --gid finseg --home-dir /nonexistent --shell /usr/sbin/nologin finseg \
 && mkdir -p /data "$NUMBA_CACHE_DIR" \
 # Compile every kernel, with the argument types the jobs use, so that no
 # request waits for the JIT (tests/e2e/test_warm_start.py checks it).
 && python -m finseg.server.kernels.warmup \
 && chown -R finseg:finseg /data "$NUMBA_CACHE_DIR"

USER finseg
VOLUME ["/data"]
EXPOSE 50051


FROM base AS dev

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "finseg.cli.healthcheck", "127.0.0.1:50051"]

CMD ["finseg", "serve", "--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", \
     "--plaintext", "--dev-tenant", "dev"]


FROM base AS production

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "finseg.cli.healthcheck", "127.0.0.1:50051", \
       "--tls-ca", "/run/secrets/finseg-ca.crt", "--server-name", "finseg"]

CMD ["finseg", "serve", "--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", \
     "--tls-cert", "/run/secrets/finseg-tls.crt", "--tls-key", "/run/secrets/finseg-tls.key", \
     "--jwt-key-file", "/run/secrets/finseg-jwt-key"]
