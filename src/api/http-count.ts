import type { Context } from "hono";
import type { HttpMetrics } from "../metrics/service.ts";
import { ApiError } from "./errors.ts";

/**
 * What a request carries for http_requests_total: its route's index, set by the route's handler,
 * and whether a handler counted it itself. A prediction counts itself where it records its other
 * metrics, so the counting wrapper around the app's fetch returns its promise untouched instead
 * of adding a callback to it.
 */
const ROUTE = Symbol("metrics route");
const COUNTED = Symbol("counted by its handler");
type Marked = { [ROUTE]?: number; [COUNTED]?: true };

export const markRoute = (request: Request, route: number): void => {
	(request as Marked)[ROUTE] = route;
};

export const routeMark = (request: Request): number | undefined => (request as Marked)[ROUTE];

export const countedByHandler = (request: Request): boolean =>
	(request as Marked)[COUNTED] === true;

/**
 * Takes over counting `c`'s request; call before the handler's first await, so the fetch
 * wrapper sees the mark when the handler's promise comes back to it.
 */
export function countOwnRequest(c: Context): void {
	(c.req.raw as Marked)[COUNTED] = true;
}

/** Counts a request its handler took over, with the status its answer has. */
export function countAnswer(c: Context, http: HttpMetrics, status: number): void {
	const request = c.req.raw;
	http.count((request as Marked)[ROUTE] ?? 0, request.method, status);
}

/** The status the app's error handler will answer `error` with. */
export const errorStatus = (error: unknown): number =>
	error instanceof ApiError ? error.status : 500;
