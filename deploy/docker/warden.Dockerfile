# The gateway + API image. Build from the repository root:
#   docker build -f deploy/docker/warden.Dockerfile -t warden:0.1.0 .
# Run one process per container: the command is the bundle to run, e.g.
#   docker run warden:0.1.0 apps/api/dist/main.js
#   docker run warden:0.1.0 apps/gateway/dist/main.js
# Not built on the project's CI machines (no Docker engine there); see deploy/docker/README.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Everything installed; `pnpm build` generates the code (Prisma client, protobuf, the console's
#    build) and bundles each process into apps/<app>/dist (scripts/build.ts).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV PNPM_VERSION=10.34.8
RUN npm install -g pnpm@${PNPM_VERSION}
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build

# 2. Production dependencies only (the packages the bundles leave external, the Prisma schema
#    engine the API migrates with), with the bundles and the console copied over.
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
ENV PNPM_VERSION=10.34.8
RUN npm install -g pnpm@${PNPM_VERSION}
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @warden/api... --filter @warden/gateway... \
 && rm -rf test bench .ci
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/gateway/dist apps/gateway/dist
# The web console's built files (pnpm generate builds them), served by the API.
COPY --from=build /app/apps/console/dist apps/console/dist

# 3. The runtime: Node, the bundles and their production dependencies; no TypeScript loader.
FROM ${NODE_IMAGE}
# MALLOC_ARENA_MAX: glibc otherwise keeps a malloc arena per thread (~12 MB more resident memory).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    WARDEN_DATA_DIR=/data \
    WARDEN_API_ADDR=0.0.0.0:8009 \
    WARDEN_GRPC_ADDR=0.0.0.0:8010 \
    WARDEN_POSTGRES_ADDR=0.0.0.0:15432 \
    WARDEN_SSH_ADDR=0.0.0.0:12222
RUN mkdir -p /data && chown node:node /data
WORKDIR /app
COPY --from=prod --chown=root:root /app /app
# The image's unprivileged user (uid 1000); the app files stay root-owned and read-only to it.
USER node
EXPOSE 8009 8010 15432 12222 9464
# Source maps: stack traces name the TypeScript files and lines. An 8 MiB young-generation
# semi-space (V8's default grows to 16): the recording's garbage is collected young instead of
# reaching the old generation, which kept the gateway's RSS under 200 MB through a 1 GiB COPY
# after a million recorded statements (bench/pgbench.ts).
ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=8"]
CMD ["apps/api/dist/main.js"]
