# The Nightshift worker (and CLI) image used by docker-compose.yml.
# TypeScript runs through tsx (bin/nightshift.js), as on a developer machine: no build step to drift.
FROM node:20-bookworm-slim

WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

# Backups, documents and dev-only files live here; mount a volume on it.
ENV NIGHTSHIFT_DATA_DIR=/data
# Two malloc arenas instead of one per thread, V8's young generation capped at 2 x 4 MB: the worker's RSS under
# 256 MB without slowing it (README, Worker memory; workerProcessEnv in workers/resources.ts).
ENV MALLOC_ARENA_MAX=2
ENV NODE_OPTIONS=--max-semi-space-size=4
RUN mkdir -p /data && chown node:node /data
USER node

# 9464: Prometheus metrics of the worker; 8780: the session gate (`nightshift gate`).
EXPOSE 9464 8780
CMD ["node", "bin/nightshift.js", "worker"]
