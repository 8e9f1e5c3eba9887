# One image for every Wharf process; the command picks it:
#   node dist/apps/gateway/src/main.js | metadata | blob | migrate | registry (all-in-one)
# Multi-stage: the build stage has the dev dependencies and the TypeScript; the runtime stage only
# the compiled dist/ and production node_modules, and runs as the unprivileged `node` user.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig*.json nx.json ./
COPY tools ./tools
COPY libs ./libs
COPY apps ./apps
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    WHARF_HTTP_ADDR=:8080 \
    WHARF_DATA_DIR=/var/lib/wharf
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./package.json
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
RUN mkdir -p /var/lib/wharf && chown node:node /var/lib/wharf
# The code is root-owned and read-only to the process; only the data directory is writable.
USER node
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["dist/apps/gateway/src/main.js"]
