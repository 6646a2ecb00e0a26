# syntax=docker/dockerfile:1
# Parley gateway image. Build: docker build -t parley:0.1.0 .
# Runs as a non-root user, with a read-only root filesystem and one writable volume
# (/var/lib/parley). It expects an external PostgreSQL: DATABASE_URL (the embedded
# PostgreSQL of `npm start` is for a laptop and is not in this image). See deploy/README.md.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: every dependency, then the TypeScript sources compiled to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; we build below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY .swcrc tsconfig.json ./
COPY src src
COPY migrations migrations
RUN npm run build

# 2. Production dependencies only: no devDependencies, no optional packages (the embedded
#    PostgreSQL binaries), no install scripts.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. Runtime: node, the production node_modules, the built code, the protos.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="parley" \
      org.opencontainers.image.description="Zero-trust gateway for exchanging parameters between organizations over SPIFFE mTLS gRPC" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="Parley" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# A fixed non-root uid/gid (10001) so volumes, runAsUser and SPIRE unix:uid selectors can name it.
RUN groupadd --system --gid 10001 parley \
 && useradd --system --uid 10001 --gid parley --home-dir /var/lib/parley --no-create-home --shell /usr/sbin/nologin parley \
 && mkdir -p /var/lib/parley /etc/parley \
 && chown parley:parley /var/lib/parley
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json package-lock.json ./
COPY bin bin
COPY proto proto
ENV NODE_ENV=production \
    PARLEY_DATA_DIR=/var/lib/parley \
    PARLEY_LOG_FORMAT=json
VOLUME ["/var/lib/parley"]
USER 10001:10001
# gRPC (mTLS), admin (HTTPS + mTLS), bundle endpoint, ops (health, readiness, metrics).
EXPOSE 8443 8444 8446 9464
# The gateway is PID 1: it handles SIGTERM itself (closes listeners, drains, exits 0).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PARLEY_OPS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/parley.js"]
# Mount a configuration and pass --config (compose and the Helm chart mount /etc/parley/parley.yaml).
CMD ["serve"]
