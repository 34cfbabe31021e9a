# syntax=docker/dockerfile:1
# One image for every function (README "Deploy on Kubernetes"). STREAMFORGE_FUNCTION selects the
# function a Knative Service runs; Jobs override the command (knative/jobs/*.yaml:
# `node --import tsx functions/<target>/main.ts`). TypeScript runs directly through tsx, a
# production dependency, so there is no compile step. Node 22 LTS (the code needs Node >= 20.19).
# Without a Docker engine, image/build.sh builds the same image (same /app contents, user,
# port and entrypoint; Debian 12 + the build machine's Node) as an OCI layout: docs/image.md.
# test/image builds it, runs every entrypoint from it and checks that it agrees with this file.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- deps: production dependencies, with the toolchain better-sqlite3 needs when no prebuilt
# binary matches (it is built from source then).
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# ---- runtime: no compiler, no dev dependencies; code owned by root, run as uid 1000.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY shared ./shared
COPY functions ./functions
# The Job templates the queue-manager renders (JOB_TEMPLATE) and the topology files.
COPY knative/jobs ./knative/jobs
COPY kafka-sources ./kafka-sources
# Numeric uid:gid (the image's `node` user) so that runAsNonRoot can be verified by the kubelet.
USER 1000:1000
EXPOSE 8080
# `exec` makes node PID 1, so SIGTERM from Kubernetes reaches the function's drain logic.
ENTRYPOINT ["/bin/sh", "-c", "exec node --import tsx \"functions/${STREAMFORGE_FUNCTION:?set STREAMFORGE_FUNCTION to a folder of functions/}/main.ts\" \"$@\"", "streamforge"]
