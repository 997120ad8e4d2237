# syntax=docker/dockerfile:1
#
# One image per runtime, same source:
#   docker build --build-arg RUNTIME=node -t titanic-serve:node .
#   docker build --build-arg RUNTIME=bun  -t titanic-serve:bun  .
#   docker build --build-arg RUNTIME=deno -t titanic-serve:deno .
#
# All base images are Debian (glibc): onnxruntime-node ships glibc-only linux binaries, so
# alpine/musl images would not load the native addon. Versions follow package.json's devDependencies.

ARG RUNTIME=node
ARG NODE_VERSION=24.21.0
ARG BUN_VERSION=1.4.5
ARG DENO_VERSION=2.9.6

# --- Production node_modules, installed once with npm for every runtime. ---------------------------
# The runtimes themselves are devDependencies (node, bun, deno npm packages); in an image the base
# image provides the runtime, so only production dependencies are installed. Install scripts are not
# needed: onnxruntime-node ships its prebuilt CPU binaries in the package (its postinstall only
# fetches CUDA libraries).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
	&& npm cache clean --force
# onnxruntime-node carries binaries for every OS/arch (~290 MB); keep only linux/<this arch>.
RUN arch="$(node -p process.arch)" \
	&& cd node_modules/onnxruntime-node/bin/napi-v6 \
	&& test -f "linux/${arch}/onnxruntime_binding.node" \
	&& find . -mindepth 2 -maxdepth 2 ! -path "./linux/${arch}" -exec rm -rf {} + \
	&& find . -mindepth 1 -type d -empty -delete

# --- One stage per runtime: base image, start command, health check. ------------------------------
# Each HEALTHCHECK uses the runtime itself (slim images have no curl) and asks /ready, so a
# container counts as healthy only once the models are loaded and warmed. The port comes from $PORT.

FROM node:${NODE_VERSION}-bookworm-slim AS runtime-node
# Node >= 23.6 runs .ts files by type stripping.
CMD ["node", "src/serve/node.ts"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

FROM oven/bun:${BUN_VERSION}-slim AS runtime-bun
CMD ["bun", "src/serve/bun.ts"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD ["bun", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

FROM denoland/deno:debian-${DENO_VERSION} AS runtime-deno
# The same permission flags as deno.json's "serve" task. `deno task serve` cannot be used here: the
# task runs ./node_modules/.bin/deno (the npm devDependency), which the image does not install; the
# base image's deno is on PATH instead. (tests/deploy checks that the flags stay in sync.)
CMD ["deno", "run", "--unstable-net", "--allow-net", "--allow-read=.", "--allow-env=PORT,HOST,MODELS_DIR,LOG_LEVEL,API_KEY,WORKERS,METRICS,V2_MAX_BODY_BYTES,V2_MAX_ELEMENTS,BENCH_ROUTES,STAGES", "--allow-ffi=node_modules/onnxruntime-node", "--allow-sys=cpus", "src/serve/deno.ts"]
# `deno eval` runs with all permissions, so the probe needs no flags.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD ["deno", "eval", "fetch('http://127.0.0.1:'+(Deno.env.get('PORT')??3000)+'/ready').then(r=>Deno.exit(r.ok?0:1),()=>Deno.exit(1))"]
# The base image's DENO_DIR (/deno-dir) belongs to its own deno user; uid 10001 caches under /tmp
# (an emptyDir in deploy/k8s.yaml). Deno still starts when the cache is not writable.
ENV DENO_DIR=/tmp/deno-dir

# --- The image: the chosen runtime plus the app. -------------------------------------------------
FROM runtime-${RUNTIME}
WORKDIR /app
# Root-owned and read-only for the service user; deno.json carries nodeModulesDir: "manual".
COPY --from=deps /app/node_modules ./node_modules
COPY package.json deno.json ./
COPY src ./src
COPY models ./models
ENV NODE_ENV=production \
	HOST=0.0.0.0 \
	PORT=3000 \
	MODELS_DIR=models \
	LOG_LEVEL=info \
	METRICS=on
# A numeric non-root uid, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 3000
# The service drains in-flight requests on SIGTERM and exits 0 within ~5 s.
STOPSIGNAL SIGTERM
