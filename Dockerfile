# Image for the platform's Node processes (stedi-sim, worker, api, codec server), used by
# temporal-dev.yml. Not built on CI (no Docker there); see stack/stack.
# Multi-stage: the build stage has dev dependencies (TypeScript, buf); the runtime stage holds only
# production dependencies, the compiled dist/ (with the prebuilt workflow bundle) and runs as a non-root user.
FROM node:22-slim AS build
WORKDIR /app
# Dependencies first so that source edits do not re-run npm ci.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The image's unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
# temporal-dev.yml sets the command per service.
CMD ["node", "--enable-source-maps", "--no-memory-reducer", "dist/api/main.js"]
