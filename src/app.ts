import { OpenAPIHono } from "@hono/zod-openapi";
import { requireBearer } from "./api/auth.ts";
import { benchRoutes } from "./api/bench-routes.ts";
import { docsRoutes } from "./api/docs.ts";
import { ApiError } from "./api/errors.ts";
import { countHttpRequests, markedRoute, metricsRoute } from "./api/metrics.ts";
import { ModelCallTimes, modelCallRoutes } from "./api/model-calls.ts";
import { MountedPaths } from "./api/mounted-paths.ts";
import { isProtocolPath, serveOpenApiDocument } from "./api/openapi.ts";
import { logRequests } from "./api/request-log.ts";
import { createResponder, documentHeaders } from "./api/respond.ts";
import type { ApiRoute } from "./api/route.ts";
import { apiRoutes, mountRoutes, PROTECTED_PATHS } from "./api/routes.ts";
import { StageTimes, stageRoutes } from "./api/stages.ts";
import type { InferLimits } from "./api/v2/infer.ts";
import { protocolRoutes } from "./api/v2/routes.ts";
import { V2_DEFAULTS } from "./config.ts";
import type { Registry } from "./inference/registry.ts";
import type { Logger } from "./logger.ts";
import { createServiceMetrics } from "./metrics/service.ts";

export interface AppOptions {
	logger: Logger;
	/** When set, prediction and model routes need `Authorization: Bearer <apiKey>`. */
	apiKey?: string | undefined;
	/** True once shutdown has begun: responses then ask the client to close the connection. */
	isDraining?: () => boolean;
	/** Prometheus metrics: recorded on the request path and served at /metrics (METRICS=on). */
	metrics?: boolean;
	/** Bounds on an Open Inference Protocol request (V2_MAX_BODY_BYTES, V2_MAX_ELEMENTS). */
	v2?: InferLimits;
	/** Mount the bench's own routes (BENCH_ROUTES=1): never in production. */
	benchRoutes?: boolean;
	/** Time each prediction's stages and serve them at /bench/stages (STAGES=1): the bench's. */
	stages?: boolean;
}

/** An error in the shape its route's API uses: the protocol's on /v2, the envelope elsewhere. */
const errorBody = (error: ApiError, path: string) =>
	isProtocolPath(path) ? error.toProtocolBody() : error.toBody();

/**
 * The whole HTTP service, free of any runtime: each entry point in serve/ hands its fetch to a
 * listener. This only wires the parts together; the routes and their documentation are in
 * api/routes.ts.
 */
export function createApp(
	registry: Registry,
	{
		logger,
		apiKey,
		isDraining = () => false,
		metrics: withMetrics = false,
		v2 = V2_DEFAULTS,
		benchRoutes: withBenchRoutes = false,
		stages: withStages = false,
	}: AppOptions,
): OpenAPIHono {
	const app = new OpenAPIHono();
	const respond = createResponder(isDraining);
	// With METRICS=off nothing records anything: no wrapper around fetch, no recording handler.
	const modelNames = [...registry.ids, ...registry.graphs.map((g) => g.name)];
	// The bench reads the model-call times the metrics already take (model-calls.ts).
	const modelCalls = withBenchRoutes && withMetrics ? new ModelCallTimes() : undefined;
	const metrics = withMetrics ? createServiceMetrics(modelNames, modelCalls?.add) : undefined;
	const stages = withStages ? new StageTimes() : undefined;

	// Only at LOG_LEVEL=debug: at the default level the hot path has no logging at all.
	if (logger.debugEnabled) app.use(logRequests(logger));
	if (apiKey) {
		const auth = requireBearer(apiKey);
		for (const path of PROTECTED_PATHS) app.use(path, auth);
	}

	const routes = [
		...apiRoutes(registry, respond, metrics, stages),
		...protocolRoutes(registry, v2, respond, metrics),
	];
	if (metrics) routes.push(metricsRoute(metrics, isDraining));
	const marked = (list: ApiRoute[]) =>
		metrics ? list.map((route) => markedRoute(route, metrics.http)) : list;
	const methodsByPath = mountRoutes(app, marked(routes));
	// The bench's instruments: counted like /health, so floor and floor-post pay the same for
	// metrics; not documented.
	const instruments = [
		...(withBenchRoutes ? benchRoutes(respond) : []),
		...(modelCalls ? modelCallRoutes(modelCalls, respond) : []),
		...(stages ? stageRoutes(stages, respond) : []),
	];
	const bench = mountRoutes(app, marked(instruments), { documented: false });
	for (const [path, methods] of bench) methodsByPath.set(path, methods);

	// The two generated documents are not on the hot path: a header middleware is fine there.
	for (const path of ["/openapi.json", "/docs"]) app.use(path, documentHeaders(isDraining));
	serveOpenApiDocument(app, "/openapi.json");
	methodsByPath.set("/openapi.json", ["GET"]);
	for (const [path, handler] of docsRoutes()) {
		app.get(path, (c) => handler(c.req.raw));
		methodsByPath.set(path, ["GET"]);
	}

	const mounted = new MountedPaths(methodsByPath);
	// Inside the counting wrapper, so a stage's "route" is Hono's dispatch alone.
	stages?.watch(app);
	if (metrics) {
		metrics.http.addRoutes(methodsByPath.keys());
		countHttpRequests(app, metrics.http, mounted);
	}
	app.notFound((c) => {
		const allow = mounted.find(c.req.path)?.allow;
		const error = allow
			? new ApiError(405, "method_not_allowed", `use ${allow}`, { headers: { Allow: allow } })
			: new ApiError(404, "not_found", `no route ${c.req.method} ${c.req.path}`);
		return respond(errorBody(error, c.req.path), error.status, error.headers);
	});
	app.onError((error, c) => {
		if (error instanceof ApiError) {
			return respond(errorBody(error, c.req.path), error.status, error.headers);
		}
		logger.error(`unhandled error on ${c.req.method} ${c.req.path}: ${String(error)}`);
		return respond(
			errorBody(new ApiError(500, "internal_error", "internal error"), c.req.path),
			500,
		);
	});

	return app;
}
