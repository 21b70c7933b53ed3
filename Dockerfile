# finseg: the gRPC service on an embedded LMDB store.
#   docker build -t finseg .
#   docker run -p 50051:50051 -v finseg-data:/data finseg
FROM python:3.11-slim

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
# pyarrow. finseg-client is ./client, installed below, never the index's.
COPY pyproject.toml ./
COPY client/pyproject.toml ./client/
RUN python -c "import tomllib; print('\n'.join(d for p in ('pyproject.toml', 'client/pyproject.toml') for d in tomllib.load(open(p, 'rb'))['project']['dependencies'] if not d.startswith('finseg-client')))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY README.md ./
COPY protos ./protos
COPY server ./server
COPY client ./client
RUN pip install --no-deps ./client . \
 && groupadd --system --gid 10001 finseg \
 && useradd --system --uid 10001 --gid finseg --home-dir /nonexistent --shell /usr/sbin/nologin finseg \
 && mkdir -p /data "$NUMBA_CACHE_DIR" \
 # Compile every kernel now so the first request does not wait for the JIT.
 && python -m finseg.server.kernels.warmup \
 && chown -R finseg:finseg /data "$NUMBA_CACHE_DIR"

USER finseg
VOLUME ["/data"]
EXPOSE 50051

# TLS and token verification are not optional outside development (SPEC §7):
# mount the certificate, its key, its CA and the JWT key (an HS256 secret or
# a PEM public key; see README "Security") as secrets at these paths. The
# certificate must name "finseg" for the health check below, or override it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "finseg.cli.healthcheck", "127.0.0.1:50051", \
       "--tls-ca", "/run/secrets/finseg-ca.crt", "--server-name", "finseg"]

CMD ["finseg", "serve", "--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", \
     "--tls-cert", "/run/secrets/finseg-tls.crt", "--tls-key", "/run/secrets/finseg-tls.key", \
     "--jwt-key-file", "/run/secrets/finseg-jwt-key"]
