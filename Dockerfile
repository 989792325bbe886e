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
# Two malloc arenas instead of one per thread: ~35 MB less RSS for the worker (README, Worker memory).
ENV MALLOC_ARENA_MAX=2
RUN mkdir -p /data && chown node:node /data
USER node

# 9464: Prometheus metrics of the worker; 8780: the session gate (`nightshift gate`).
EXPOSE 9464 8780
CMD ["node", "bin/nightshift.js", "worker"]
