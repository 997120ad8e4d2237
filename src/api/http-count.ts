import { ApiError } from "./errors.ts";

/**
 * What the route handler of the request being dispatched tells the counting wrapper around the
 * app's fetch: its route's index, and whether it counts the request itself (a prediction does,
 * where it records its other metrics, so the wrapper adds no callback to its promise).
 *
 * Hono calls the handler synchronously from fetch (middleware included, up to the handler's first
 * await), so the wrapper clears these before dispatching and reads them as soon as fetch returns:
 * nothing is stored on the request, whose shape therefore stays the runtime's own.
 */
const marks = { route: -1, counted: false };

/** Called by the wrapper before it dispatches a request. */
export function clearMarks(): void {
	marks.route = -1;
	marks.counted = false;
}

/** Called by a route's handler on entry. */
export function markRoute(route: number): void {
	marks.route = route;
}

/** The route index a handler marked during this dispatch, if any. */
export const dispatchedRoute = (): number | undefined =>
	marks.route === -1 ? undefined : marks.route;

/** Whether the handler of this dispatch counts its request itself. */
export const countedByHandler = (): boolean => marks.counted;

/**
 * Takes over counting the request being dispatched; call on the handler's entry, before any
 * await. Returns its route's index, to count it under.
 */
export function countOwnRequest(): number {
	marks.counted = true;
	return marks.route === -1 ? 0 : marks.route;
}

/** The status the app's error handler will answer `error` with. */
export const errorStatus = (error: unknown): number =>
	error instanceof ApiError ? error.status : 500;
