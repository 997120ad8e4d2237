import { z } from "@hono/zod-openapi";
import { BODY_LIMITS, readBody } from "./body.ts";
import { json } from "./openapi.ts";
import type { Respond } from "./respond.ts";
import type { ApiRoute } from "./route.ts";
import { Health } from "./schemas.ts";
import { whenThere } from "./soon.ts";

/**
 * Routes that exist only for the bench (BENCH_ROUTES=1), never in production, and are left out of
 * /openapi.json: they are instruments, not part of the API.
 */

export const FLOOR_POST_PATH = "/bench/floor-post";

/**
 * POST /bench/floor-post: reads the body whole through the same bounded reader as a prediction
 * (its size limit, and the drain gate of body-reads.ts), then answers a constant with the usual
 * headers. It neither parses nor validates: the difference between this and GET /health is what
 * the runtime charges for receiving a body, and what a prediction adds over this is our code.
 */
export function benchRoutes(respond: Respond): ApiRoute[] {
	return [
		{
			config: {
				method: "post",
				path: FLOOR_POST_PATH,
				summary: "Bench only: read the body, answer a constant",
				responses: { 200: json(Health, "The body was read") },
			},
			handler: (c) =>
				whenThere(readBody(c.req.raw, BODY_LIMITS.single, c.env), () => respond({ status: "ok" })),
		},
	];
}

/** What a bench instrument keeps since its last clear. */
interface Instrument {
	summary(): unknown;
	clear(): void;
}

/**
 * GET `path`: what the instrument kept since the last clear (`what` says what, for the route's
 * summary); DELETE `path`: clears it. Both for the bench alone, left out of /openapi.json.
 */
export function instrumentRoutes(
	path: string,
	what: string,
	instrument: Instrument,
	respond: Respond,
): ApiRoute[] {
	return [
		{
			config: {
				method: "get",
				path,
				summary: `Bench only: ${what} since the last clear`,
				responses: { 200: json(z.object({}).passthrough(), "Per model") },
			},
			handler: () => respond(instrument.summary()),
		},
		{
			config: {
				method: "delete",
				path,
				summary: `Bench only: clear the ${what}`,
				responses: { 204: { description: "Cleared" } },
			},
			handler: () => {
				instrument.clear();
				return new Response(null, { status: 204 });
			},
		},
	];
}
