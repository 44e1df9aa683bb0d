# The gateway + API image (also the CLI). Build from the repository root:
#   docker build -f deploy/docker/warden.Dockerfile -t warden:0.1.0 .
# Run one process per container: the command is the entry file, e.g.
#   docker run warden:0.1.0 apps/api/src/main.ts
#   docker run warden:0.1.0 apps/gateway/src/main.ts
# Not built on the project's CI machines (no Docker engine there); see deploy/docker/README.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Everything installed, generated code (Prisma client, protobuf, the console's build) produced.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV PNPM_VERSION=10.34.8
RUN npm install -g pnpm@${PNPM_VERSION}
COPY . .
RUN pnpm install --frozen-lockfile && pnpm generate

# 2. Production dependencies only, with the generated code copied over.
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
ENV PNPM_VERSION=10.34.8
RUN npm install -g pnpm@${PNPM_VERSION}
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @warden/api... --filter @warden/gateway... \
 && rm -rf test bench .ci
COPY --from=build /app/packages/db/src/generated packages/db/src/generated
COPY --from=build /app/packages/proto/src/gen packages/proto/src/gen
# The web console's built files (pnpm generate builds them), served by the API.
COPY --from=build /app/apps/console/dist apps/console/dist

# 3. The runtime: Node, the app and its production dependencies, tsx (global) to run TypeScript.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WARDEN_DATA_DIR=/data \
    WARDEN_API_ADDR=0.0.0.0:8009 \
    WARDEN_GRPC_ADDR=0.0.0.0:8010 \
    WARDEN_POSTGRES_ADDR=0.0.0.0:15432 \
    WARDEN_SSH_ADDR=0.0.0.0:12222
RUN npm install -g tsx@4 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
WORKDIR /app
COPY --from=prod --chown=root:root /app /app
# The image's unprivileged user (uid 1000); the app files stay root-owned and read-only to it.
USER node
EXPOSE 8009 8010 15432 12222 9464
# tsx's CLI (installed globally above) runs the TypeScript entry file with its loader.
ENTRYPOINT ["tsx"]
CMD ["apps/api/src/main.ts"]
