import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";

/**
 * The env that in-process warm-up requests carry (app.request's third argument, seen as c.env).
 * Every runtime hands a real request its own env object (Node's socket pair, Bun's server,
 * Deno's connection info), never this one, so no client can pass its request off as warm-up.
 */
export const WARM_UP_ENV: Readonly<Record<string, never>> = Object.freeze({});

/** One debug line per request (method, path, status, ms); warm-up requests are not traffic. */
export function logRequests(logger: Logger): MiddlewareHandler {
	return async (c, next) => {
		const startedAt = performance.now();
		await next();
		if (c.env === WARM_UP_ENV) return;
		const ms = (performance.now() - startedAt).toFixed(3);
		logger.debug(`${c.req.method} ${c.req.path} ${c.res.status} ${ms} ms`);
	};
}
