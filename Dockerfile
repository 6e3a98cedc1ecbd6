# Image for the platform's Node processes (stedi-sim, worker, api), used by
# temporal-dev.yml. Not built on CI (no Docker there); see stack/stack.
FROM node:20-slim
WORKDIR /app

# Dependencies first so that source edits do not re-run npm ci.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY . .
RUN npm run build

ENV NODE_ENV=production
# temporal-dev.yml sets the command per service.
CMD ["node", "--enable-source-maps", "dist/api/main.js"]
