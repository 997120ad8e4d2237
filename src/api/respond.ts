import type { MiddlewareHandler } from "hono";

/**
 * Every response's security headers: a JSON API's share of the usual set. HSTS is left to the
 * TLS terminator in front of the service.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
	"x-content-type-options": "nosniff",
	"x-frame-options": "DENY",
	"referrer-policy": "no-referrer",
	"cross-origin-resource-policy": "same-origin",
	"cross-origin-opener-policy": "same-origin",
};

export type Respond = (body: unknown, status?: number, extra?: Record<string, string>) => Response;

/**
 * JSON responses built with plain-object headers. Setting headers through Hono's c.header() or a
 * header middleware goes through a Headers object; measured with wrk on the development machine,
 * that cost 10-20 us a request (Node's /health: 56 us with hono/secure-headers, 35 us without),
 * more than a model's inference.
 *
 * While draining, every response also says "Connection: close", so a keep-alive client moves to
 * a new connection (refused once the listener closes) instead of having its next request on the
 * old one cut off when the process exits.
 */
export function createResponder(isDraining: () => boolean): Respond {
	const open = { "content-type": "application/json", ...SECURITY_HEADERS };
	const closing = { ...open, connection: "close" };
	return (body, status = 200, extra) => {
		const headers = isDraining() ? closing : open;
		return new Response(JSON.stringify(body), {
			status,
			headers: extra ? { ...headers, ...extra } : headers,
		});
	};
}

/**
 * The same headers for a response another module built (the OpenAPI document, the docs page),
 * through a middleware: fine off the hot path.
 */
export function documentHeaders(isDraining: () => boolean): MiddlewareHandler {
	return async (c, next) => {
		await next();
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
		if (isDraining()) c.res.headers.set("connection", "close");
	};
}
