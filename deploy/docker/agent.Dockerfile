# The agent image: only the agent and the packages it uses. Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t warden-agent:0.1.0 .
# Not built on the project's CI machines (no Docker engine there); see deploy/docker/README.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Generated protobuf code (the agent needs no Prisma client).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY . .
RUN pnpm install --frozen-lockfile --filter @warden/proto... && pnpm --filter @warden/proto run generate

# 2. The agent's production dependencies only.
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @warden/agent...
COPY --from=build /app/packages/proto/src/gen packages/proto/src/gen
# Keep only what the agent runs.
RUN rm -rf apps/api apps/gateway apps/console apps/cli apps/warden test bench prisma .ci

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN npm install -g tsx@4 && npm cache clean --force
WORKDIR /app
COPY --from=prod --chown=root:root /app /app
USER node
EXPOSE 9465
# tsx's CLI (installed globally above) runs the TypeScript entry file with its loader.
ENTRYPOINT ["tsx", "apps/agent/src/main.ts"]
