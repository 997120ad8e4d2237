import { swaggerUI } from "@hono/swagger-ui";
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireBearer } from "./api/auth.ts";
import { BODY_LIMITS, readJson } from "./api/body.ts";
import { ApiError, issuesOf } from "./api/errors.ts";
import { createResponder, SECURITY_HEADERS } from "./api/respond.ts";
import {
	BatchPrediction,
	BatchRequest,
	ErrorBody,
	Health,
	ModelInfo,
	ModelList,
	ModelParam,
	Passenger,
	Prediction,
	Readiness,
} from "./api/schemas.ts";
import { encodeRows, FEATURE_COUNT } from "./inference/preprocess.ts";
import type { LoadedModel, Registry } from "./inference/registry.ts";
import type { Logger } from "./logger.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
	content: { "application/json": { schema } },
	description,
});
const errors = (...statuses: number[]) =>
	Object.fromEntries(statuses.map((s) => [s, json(ErrorBody, "Error")]));

/** The JSON Schema of each passenger field, shown in /models as the input's documented ranges. */
export const PASSENGER_FIELDS = (
	z.toJSONSchema(Passenger, { io: "input", unrepresentable: "any" }) as {
		properties: Record<string, unknown>;
	}
).properties;

function invalid(error: z.ZodError): ApiError {
	const issues = issuesOf(error);
	return new ApiError(400, "invalid_request", `${issues.length} invalid field(s)`, { issues });
}

function modelFrom(c: Context, registry: Registry): LoadedModel {
	const id = c.req.param("model") ?? "";
	const model = registry.get(id);
	if (!model) {
		throw new ApiError(
			404,
			"unknown_model",
			`unknown model ${JSON.stringify(id)}; known models: ${registry.ids.join(", ")}`,
		);
	}
	return model;
}

/** The model call's own time, so clients and the bench can tell it from HTTP time. */
function serverTiming(startedAt: number): Record<string, string> {
	return { "server-timing": `infer;dur=${(performance.now() - startedAt).toFixed(3)}` };
}

export interface AppOptions {
	logger: Logger;
	/** When set, prediction and model routes need `Authorization: Bearer <apiKey>`. */
	apiKey?: string | undefined;
	/** True once shutdown has begun: responses then ask the client to close the connection. */
	isDraining?: () => boolean;
}

/**
 * The whole HTTP service, free of any runtime: each entry point in serve/ hands its fetch to a
 * listener. Routes are declared once with their schemas so the OpenAPI document cannot drift
 * from what is validated.
 */
export function createApp(
	registry: Registry,
	{ logger, apiKey, isDraining = () => false }: AppOptions,
): OpenAPIHono {
	const app = new OpenAPIHono();
	const methodsByPath = new Map<string, string[]>();

	const respond = createResponder(isDraining);

	// Only at LOG_LEVEL=debug: at the default level the hot path has no logging at all.
	if (logger.debugEnabled) {
		app.use(async (c, next) => {
			const startedAt = performance.now();
			await next();
			const ms = (performance.now() - startedAt).toFixed(3);
			logger.debug(`${c.req.method} ${c.req.path} ${c.res.status} ${ms} ms`);
		});
	}

	if (apiKey) {
		const auth = requireBearer(apiKey);
		for (const path of ["/predict/*", "/models", "/models/*"]) app.use(path, auth);
	}

	// Documents the route, then mounts the handler; the request is validated inside the handler
	// (not by a generated validator) so content type, size and JSON errors keep our envelope.
	const mount = (route: RouteConfig, handler: (c: Context) => Response | Promise<Response>) => {
		app.openAPIRegistry.registerPath(route);
		const path = route.path.replace(/\{(\w+)\}/g, ":$1");
		app.on(route.method.toUpperCase(), path, handler);
		methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), route.method.toUpperCase()]);
	};

	mount(
		createRoute({
			method: "get",
			path: "/health",
			summary: "Liveness: the process answers",
			responses: { 200: json(Health, "Alive") },
		}),
		() => respond({ status: "ok" }),
	);

	mount(
		createRoute({
			method: "get",
			path: "/ready",
			summary: "Readiness: every model is loaded and warmed",
			responses: { 200: json(Readiness, "Ready"), 503: json(Readiness, "Still warming up") },
		}),
		() => (registry.ready ? respond({ status: "ready" }) : respond({ status: "starting" }, 503)),
	);

	mount(
		createRoute({
			method: "get",
			path: "/models",
			summary: "Every model variant with its metadata",
			responses: { 200: json(ModelList, "The models") },
		}),
		() => respond({ models: registry.list().map((m) => m.info) }),
	);

	mount(
		createRoute({
			method: "get",
			path: "/models/{model}",
			summary: "One model variant",
			request: { params: ModelParam },
			responses: { 200: json(ModelInfo, "The model"), ...errors(404) },
		}),
		(c) => respond(modelFrom(c, registry).info),
	);

	mount(
		createRoute({
			method: "post",
			path: "/predict/{model}",
			summary: "Survival probability for one passenger",
			request: {
				params: ModelParam,
				body: { ...json(Passenger, "One passenger"), required: true },
			},
			responses: { 200: json(Prediction, "The prediction"), ...errors(400, 404, 413, 415) },
		}),
		async (c) => {
			const model = modelFrom(c, registry);
			const parsed = Passenger.safeParse(await readJson(c.req.raw, BODY_LIMITS.single));
			if (!parsed.success) throw invalid(parsed.error);
			const input = new Float32Array(FEATURE_COUNT);
			model.encode(parsed.data, input, 0);
			const startedAt = performance.now();
			const [probability = Number.NaN] = model.executor.predict(input, 1);
			const timing = serverTiming(startedAt);
			const prediction = probability >= 0.5 ? 1 : 0;
			return respond({ model: model.id, prediction, probability }, 200, timing);
		},
	);

	mount(
		createRoute({
			method: "post",
			path: "/predict/{model}/batch",
			summary: "Survival probabilities for 1 to 1000 passengers in one inference call",
			request: {
				params: ModelParam,
				body: { ...json(BatchRequest, "Up to 1000 passengers"), required: true },
			},
			responses: { 200: json(BatchPrediction, "The predictions"), ...errors(400, 404, 413, 415) },
		}),
		async (c) => {
			const model = modelFrom(c, registry);
			const parsed = BatchRequest.safeParse(await readJson(c.req.raw, BODY_LIMITS.batch));
			if (!parsed.success) throw invalid(parsed.error);
			const { instances } = parsed.data;
			const input = encodeRows(model.encode, instances);
			const startedAt = performance.now();
			const probabilities = model.executor.predict(input, instances.length);
			const timing = serverTiming(startedAt);
			const predictions = Array.from(probabilities, (probability) => ({
				prediction: probability >= 0.5 ? 1 : 0,
				probability,
			}));
			return respond({ model: model.id, predictions }, 200, timing);
		},
	);

	// The two generated documents are not on the hot path: a header middleware is fine there.
	for (const path of ["/openapi.json", "/docs"]) {
		app.use(path, async (c, next) => {
			await next();
			for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
			if (isDraining()) c.res.headers.set("connection", "close");
		});
	}
	app.doc31("/openapi.json", {
		openapi: "3.1.0",
		info: {
			title: "Titanic survival inference",
			version: "1.0.0",
			description: "One Hono service on Node, Bun and Deno, serving four model variants.",
		},
	});
	app.get("/docs", swaggerUI({ url: "/openapi.json" }));
	methodsByPath.set("/openapi.json", ["GET"]);
	methodsByPath.set("/docs", ["GET"]);

	for (const [path, methods] of methodsByPath) {
		const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : [])].join(", ");
		app.all(path, () => {
			throw new ApiError(405, "method_not_allowed", `use ${allow}`, { headers: { Allow: allow } });
		});
	}

	app.notFound((c) =>
		respond(new ApiError(404, "not_found", `no route ${c.req.method} ${c.req.path}`).toBody(), 404),
	);

	app.onError((error, c) => {
		if (error instanceof ApiError) return respond(error.toBody(), error.status, error.headers);
		logger.error(`unhandled error on ${c.req.method} ${c.req.path}: ${String(error)}`);
		return respond(new ApiError(500, "internal_error", "internal error").toBody(), 500);
	});

	return app;
}
