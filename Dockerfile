# Sentinel: the workers, the scheduler, the CLI - and the Ray image of manifests/ray/ (the same code on both
# sides: Ray imports sentinel.ml from the image Sentinel runs from).
#   docker build -t sentinel:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0

# wget: KubeRay's head/worker probes call it (this image is also the Ray image).
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*

# torch FIRST, the CPU build from the PyTorch CPU index: the project's `torch>=2.13,<2.15` is then already
# satisfied and pip never pulls the multi-GB CUDA build (and its nvidia-* wheels) from PyPI.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY sentinel ./sentinel
RUN pip install . \
    && pip check \
    && if pip list 2>/dev/null | grep -qi '^nvidia'; then echo "a CUDA build of torch slipped in" >&2; exit 1; fi

# Non-root; /sandbox is where `sentinel sandbox up` writes its kubeconfig and env file (a compose volume).
RUN groupadd --gid 10001 sentinel \
    && useradd --uid 10001 --gid 10001 --home-dir /home/sentinel --create-home --shell /bin/bash sentinel \
    && mkdir -p /sandbox && chown 10001:10001 /sandbox
USER 10001:10001
WORKDIR /home/sentinel

ENTRYPOINT ["sentinel"]
CMD ["--help"]
