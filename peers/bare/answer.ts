import { SECURITY_HEADERS } from "../../src/api/respond.ts";

/**
 * What the bare servers answer: the service's /health body with the service's headers, so the
 * bytes on the wire match and only the framework differs.
 */
export const BODY = '{"status":"ok"}';
export const HEADERS = { "content-type": "application/json", ...SECURITY_HEADERS };
export const FLOOR_POST_PATH = "/bench/floor-post";

/** PORT and HOST as the service reads them (defaults 3000 and 127.0.0.1). */
export function address(env: Record<string, string | undefined>): { port: number; host: string } {
	return { port: Number(env.PORT || 3000), host: env.HOST || "127.0.0.1" };
}
