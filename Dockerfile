# gen3db container image: a build stage with the compilers and -dev
# packages, and a runtime stage with only the shared libraries gen3db links,
# ca-certificates (HTTPS to S3, Elasticsearch and the Kubernetes API) and
# postgresql-client (pg_dump, which `gen3db dump` runs, and pg_restore, which
# `gen3db restore` runs for pg_dump's custom, directory and tar archives).
#
#   docker build -t gen3db .
#   docker run --rm gen3db --help
#
# tests/integration/test_dockerfile.py checks, without a container engine,
# that every library the binary links is installed by the runtime stage:
# a newly linked library must be added to the runtime list below.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential \
        pkg-config \
        libpq-dev \
        libcurl4-openssl-dev \
        libzstd-dev \
        libarchive-dev \
        libjson-c-dev \
        libssl-dev \
        zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY src/ src/
COPY docs/ docs/
RUN make -j"$(nproc)" \
 && make install PREFIX=/usr/local DESTDIR=/out

FROM debian:bookworm-slim AS runtime
# postgresql-client is Debian's (PostgreSQL 15): pg_dump dumps servers up to
# its own major version, and pg_restore reads archives of pg_dump up to 15
# (archive format 1.14); for newer ones install the matching client from
# apt.postgresql.org instead.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libpq5 \
        libcurl4 \
        libzstd1 \
        libarchive13 \
        libjson-c5 \
        libssl3 \
        ca-certificates \
        postgresql-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/ /usr/local/
# A fixed numeric user, so pods can set runAsNonRoot; its home is where
# the gen3-helm jobs mount AWS credentials (/home/<user>/.aws/credentials).
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin gen3db
USER 10001:10001
WORKDIR /home/gen3db
ENV AWS_SHARED_CREDENTIALS_FILE=/home/gen3db/.aws/credentials
ENTRYPOINT ["gen3db"]
CMD ["--help"]
