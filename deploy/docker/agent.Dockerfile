# The agent image: only the agent and the packages it uses. Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t warden-agent:0.1.0 .
# Not built on the project's CI machines (no Docker engine there); see deploy/docker/README.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. The generated protobuf code and the agent's bundle, apps/agent/dist (scripts/build.ts; the
#    agent needs no Prisma client).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm --filter @warden/proto run generate \
 && node --import tsx scripts/build.ts agent

# 2. The agent's production dependencies only (the packages its bundle leaves external).
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @warden/agent...
COPY --from=build /app/apps/agent/dist apps/agent/dist
# Keep only what the agent runs.
RUN rm -rf apps/api apps/gateway apps/console apps/cli apps/warden test bench prisma .ci

FROM ${NODE_IMAGE}
# MALLOC_ARENA_MAX: glibc otherwise keeps a malloc arena per thread (~12 MB more resident memory).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=prod --chown=root:root /app /app
USER node
EXPOSE 9465
# The bundled agent (no TypeScript loader); source maps make stack traces name the .ts files.
# The same 8 MiB young generation as the gateway's (warden.Dockerfile).
ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=8", "apps/agent/dist/main.js"]
