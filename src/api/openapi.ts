import type { OpenAPIHono, RouteConfig, z } from "@hono/zod-openapi";
import packageJson from "../../package.json" with { type: "json" };
import { BODY_LIMITS } from "./body.ts";
import { ErrorBody } from "./schemas.ts";
import { ProtocolError } from "./v2/schemas.ts";

/** The name of the bearer security scheme in the OpenAPI document. */
const BEARER = "bearerAuth";

/** A JSON request or response body of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
	content: { "application/json": { schema } },
	description,
});

const MIB = 1024 * 1024;
const size = (bytes: number) => (bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes / 1024} KiB`);

/** When each error status happens, as the README's error table says. */
const ERROR_DESCRIPTIONS = {
	400: "malformed_json (empty body, not JSON, not UTF-8) or invalid_request (every invalid field is listed in issues)",
	401: "unauthorized: API_KEY is set and the bearer token is missing or wrong",
	404: "unknown_model: the message lists the known models",
	405: "method_not_allowed: answered to any method this path does not take",
	413: `payload_too_large: a body over ${size(BODY_LIMITS.single)} (one passenger) or ${size(BODY_LIMITS.batch)} (a batch)`,
	415: "unsupported_media_type: a body that is not application/json (utf-8)",
	500: "internal_error: a bug, logged on the server; the answer carries no detail",
} as const;
export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** The same statuses on the Open Inference Protocol's routes, whose errors are {"error": "..."}. */
const PROTOCOL_ERROR_DESCRIPTIONS = {
	400: "The body is not JSON, or a tensor does not fit the model: the message names the field and why",
	401: ERROR_DESCRIPTIONS[401],
	404: "An unknown model or version; the message lists the known models",
	405: ERROR_DESCRIPTIONS[405],
	413: "A body over V2_MAX_BODY_BYTES (8 MiB unless set)",
	415: ERROR_DESCRIPTIONS[415],
	500: ERROR_DESCRIPTIONS[500],
} as const satisfies Record<ErrorStatus, string>;

/** Whether a path belongs to the Open Inference Protocol, whose errors have its own shape. */
export const isProtocolPath = (path: string) => path === "/v2" || path.startsWith("/v2/");

const text = (description: string) => ({ description, schema: { type: "string" as const } });
const ERROR_HEADERS: Partial<Record<ErrorStatus, Record<string, ReturnType<typeof text>>>> = {
	401: { "WWW-Authenticate": text('Bearer realm="titanic"') },
	405: { Allow: text("The methods this path takes") },
};

function documented(
	statuses: readonly ErrorStatus[],
	schema: z.ZodType,
	descriptions: Record<ErrorStatus, string>,
): RouteConfig["responses"] {
	return Object.fromEntries(
		statuses.map((status) => {
			const headers = ERROR_HEADERS[status];
			return [status, { ...json(schema, descriptions[status]), ...(headers && { headers }) }];
		}),
	);
}

/** The documented error responses, in the service's JSON envelope. */
export const errors = (...statuses: ErrorStatus[]) =>
	documented(statuses, ErrorBody, ERROR_DESCRIPTIONS);

/** The documented error responses of an Open Inference Protocol route. */
export const protocolErrors = (...statuses: ErrorStatus[]) =>
	documented(statuses, ProtocolError, PROTOCOL_ERROR_DESCRIPTIONS);

/**
 * Adds what every route shares to its documentation: the 405 its path gives any other method,
 * the 500 of a bug and, for a route behind API_KEY, the bearer requirement and its 401.
 */
export function withSharedResponses(route: RouteConfig, needsToken: boolean): RouteConfig {
	const shared = isProtocolPath(route.path) ? protocolErrors : errors;
	if (!needsToken) return { ...route, responses: { ...route.responses, ...shared(405, 500) } };
	return {
		...route,
		security: [{ [BEARER]: [] }],
		responses: { ...route.responses, ...shared(401, 405, 500) },
	};
}

/** Serves the OpenAPI 3.1 document of every route registered on `app`. */
export function serveOpenApiDocument(app: OpenAPIHono, path: string): void {
	app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
		type: "http",
		scheme: "bearer",
		description:
			"Authorization: Bearer <API_KEY>. Applies only when the server is started with API_KEY set; without it every route is open.",
	});
	app.doc31(path, {
		openapi: "3.1.0",
		info: {
			title: "Titanic survival inference",
			version: packageJson.version,
			description:
				"One Hono service on Node, Bun and Deno: four Titanic model variants behind a typed API, and every model in the models folder over the Open Inference Protocol (/v2).",
		},
	});
}
