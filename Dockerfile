# Lifeboat worker image.
#   docker build -t lifeboat .
#   docker run --rm -e TEMPORAL_ADDRESS=host:7233 -v $PWD/deploy/clusters.yaml:/etc/lifeboat/clusters.yaml:ro \
#     -e LIFEBOAT_INVENTORY=/etc/lifeboat/clusters.yaml lifeboat
# docker-compose.yml runs it next to a PostgreSQL-backed Temporal.

ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# --- build: compile TypeScript to dist/ ------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
# npm ci refuses a lockfile that lacks other platforms' optional packages;
# npm install --no-save then installs the same locked tree (see scripts/setup.sh).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY lab ./lab
RUN npx tsc -p tsconfig.json

# --- runtime: production dependencies, compiled code, the tools activities run --
FROM ${NODE_IMAGE} AS runtime
# openssh-client: ssh-keygen/ssh for operators debugging from inside the
# container (the SSH activities themselves use ssh2); restic: backup restores.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client restic ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --no-audit --no-fund || npm install --no-save --omit=dev --no-audit --no-fund) \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The gRPC activities load the ledger's .proto files at run time.
COPY src/protos ./src/protos
# .lifeboat/ is Lifeboat's local state directory (relative to the working directory).
RUN mkdir -p /app/.lifeboat && chown node:node /app/.lifeboat
# Non-root: the image's built-in `node` user (uid 1000).
USER node
# tini reaps children (restic, commands) and forwards SIGTERM, so a stopping
# worker drains its activities instead of being killed mid-step.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/lifeboat.js", "worker"]
