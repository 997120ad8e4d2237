import type { RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";

/** What answers a route: Hono's context in, the response out. */
export type Handler = (c: Context) => Response | Promise<Response>;

/** A route's documentation and its handler, declared together so the two cannot drift. */
export interface ApiRoute {
	readonly config: RouteConfig;
	readonly handler: Handler;
}
