import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Requires `Authorization: Bearer <key>`. Both sides are hashed first so the comparison takes
 * the same time whatever the length or content of a wrong key.
 */
export function requireBearer(apiKey: string): MiddlewareHandler {
	const expected = digest(apiKey);
	return async (c, next) => {
		const header = c.req.header("authorization") ?? "";
		// The scheme is case-insensitive (RFC 9110): "bearer" is as good as "Bearer".
		const token = /^bearer /i.test(header) ? header.slice(7) : "";
		if (!timingSafeEqual(digest(token), expected)) {
			throw new ApiError(401, "unauthorized", "missing or wrong bearer token", {
				headers: { "WWW-Authenticate": 'Bearer realm="titanic"' },
			});
		}
		await next();
	};
}
