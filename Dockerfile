# batchemu as a sidecar: docker build -t batchemu . && docker run -p 8000:8000 batchemu
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY batchemu ./batchemu
RUN python3 -m pip install --no-cache-dir . && useradd --create-home batchemu
USER batchemu
ENV BATCHEMU_HOST=0.0.0.0 BATCHEMU_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=5 \
  CMD python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/_batchemu/health').status != 200)"
CMD ["batchemu", "serve"]
