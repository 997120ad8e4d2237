import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/exposition.ts";
import type { HttpMetrics, ServiceMetrics } from "../metrics/service.ts";
import { clearMarks, countedByHandler, dispatchedRoute, markRoute } from "./http-count.ts";
import type { MountedPaths } from "./mounted-paths.ts";
import { WARM_UP_ENV } from "./request-log.ts";
import { SECURITY_HEADERS } from "./respond.ts";
import type { ApiRoute } from "./route.ts";
import { routePattern } from "./routes.ts";

export const METRICS_PATH = "/metrics";

/**
 * The route with a handler that first tells the counting wrapper its route's index
 * (http-count.ts), so counting a request that reached its handler needs no lookup.
 */
export function markedRoute(route: ApiRoute, http: HttpMetrics): ApiRoute {
	const index = http.addRoute(routePattern(route.config.path));
	const { handler } = route;
	return {
		...route,
		handler: (c) => {
			markRoute(index);
			return handler(c);
		},
	};
}

/**
 * Counts every request in http_requests_total under its route pattern, by wrapping the app's
 * fetch: it sees the final response, errors, 401s and 404s included, and adds one promise
 * callback per request where a middleware would add a level to Hono's chain (two async frames);
 * a prediction, which counts itself, gets none. A request that reached no route's handler (refused
 * by auth, a 405, an unknown path) counts under the mounted path its path falls under, or as
 * unmatched: a lookup off the hot path. Warm-up requests are not counted.
 */
export function countHttpRequests(
	app: OpenAPIHono,
	http: HttpMetrics,
	mounted: MountedPaths,
): void {
	const dispatch = app.fetch;
	const count = (request: Request, route: number | undefined, response: Response): Response => {
		http.count(
			route ?? http.route(mounted.find(app.getPath(request))?.path),
			request.method,
			response.status,
		);
		return response;
	};
	app.fetch = (request, env, executionCtx) => {
		clearMarks();
		const response = dispatch(request, env, executionCtx);
		if (env === WARM_UP_ENV || countedByHandler()) return response;
		const route = dispatchedRoute();
		return response instanceof Promise
			? response.then((answered) => count(request, route, answered))
			: count(request, route, response);
	};
}

/** GET /metrics: the Prometheus exposition text, with the service's usual headers. */
export function metricsRoute(metrics: ServiceMetrics, isDraining: () => boolean): ApiRoute {
	const open = { "content-type": EXPOSITION_CONTENT_TYPE, ...SECURITY_HEADERS };
	const closing = { ...open, connection: "close" };
	return {
		config: {
			method: "get",
			path: METRICS_PATH,
			summary: "Prometheus metrics (text exposition format 0.0.4); absent with METRICS=off",
			responses: {
				200: {
					description:
						"inference_requests_total, inference_request_duration_seconds, inference_compute_duration_seconds, inference_batch_size, http_requests_total and the process_* metrics",
					content: { "text/plain; version=0.0.4": { schema: z.string() } },
				},
			},
		},
		handler: () => new Response(metrics.expose(), { headers: isDraining() ? closing : open }),
	};
}
