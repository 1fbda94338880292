# batchemu as a sidecar:
#   docker build -t batchemu . && docker run -p 127.0.0.1:8000:8000 batchemu
# (127.0.0.1: an unauthenticated endpoint that runs containers; publish it wider only on purpose)
# Offline (no image registry), from the local image scripts/build-test-images makes:
#   docker build --network host --build-arg BASE_IMAGE=batchemu-test/python:latest -t batchemu .
# BASE_IMAGE may be any image with Python >= 3.11 and pip.
# A ca-certificates.crt placed beside this file is trusted by pip during the build (for TLS-intercepting
# proxies). Jobs run on the simulated runner unless the Docker socket is mounted (see README).
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . /src
RUN if [ -f /src/ca-certificates.crt ]; then export PIP_CERT=/src/ca-certificates.crt; fi \
 && python3 -m pip install /src \
 && (id batchemu >/dev/null 2>&1 || useradd --create-home --uid 10001 batchemu 2>/dev/null \
     || adduser --disabled-password --uid 10001 batchemu) \
 && mkdir -p /state && chown batchemu /state
# Non-root by default; run with --user root (or add the socket's group) to use a mounted Docker socket.
USER batchemu
ENV BATCHEMU_HOST=0.0.0.0 BATCHEMU_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD python3 -c "import os, sys, urllib.request; port = os.environ.get('BATCHEMU_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/_batchemu/health').status != 200)"
# Exec form: batchemu is PID 1 and handles SIGTERM itself, so `docker stop` ends it cleanly in seconds.
CMD ["batchemu", "serve"]
