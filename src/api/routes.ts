import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Registry } from "../inference/registry.ts";
import type { ServiceMetrics } from "../metrics/service.ts";
import { errors, json, withSharedResponses } from "./openapi.ts";
import {
	BATCH,
	ONE_PASSENGER,
	type PredictionShape,
	predictHandler,
	requestedModel,
} from "./predict.ts";
import type { Respond } from "./respond.ts";
import type { ApiRoute } from "./route.ts";
import {
	BatchPrediction,
	BatchRequest,
	Health,
	ModelInfo,
	ModelList,
	ModelParam,
	Passenger,
	Prediction,
	Readiness,
} from "./schemas.ts";
import { type StageTimes, stagedPredictHandler } from "./stages.ts";

/** Paths that need the bearer token when API_KEY is set; the probes and documents stay open. */
export const PROTECTED_PATHS = [
	"/predict/*",
	"/models",
	"/models/*",
	"/metrics",
	"/v2/models/*",
	"/bench/stages",
	"/bench/model-calls",
] as const;

const needsToken = (path: string) =>
	PROTECTED_PATHS.some((p) => (p.endsWith("/*") ? path.startsWith(p.slice(0, -1)) : path === p));

/**
 * Every route of the service except the two documents (/openapi.json, /docs) and /metrics; with
 * `metrics`, the prediction routes record into them; with `stages` (STAGES=1), they time their steps.
 */
export function apiRoutes(
	registry: Registry,
	respond: Respond,
	metrics?: ServiceMetrics,
	stages?: StageTimes,
): ApiRoute[] {
	const predict = <Body, Answer>(shape: PredictionShape<Body, Answer>) =>
		stages
			? stagedPredictHandler(shape, registry, respond, stages, metrics)
			: predictHandler(shape, registry, respond, metrics);
	return [
		{
			config: {
				method: "get",
				path: "/health",
				summary: "Liveness: the process answers",
				responses: { 200: json(Health, "Alive") },
			},
			handler: () => respond({ status: "ok" }),
		},
		{
			config: {
				method: "get",
				path: "/ready",
				summary: "Readiness: every model is loaded and warmed",
				responses: { 200: json(Readiness, "Ready"), 503: json(Readiness, "Still warming up") },
			},
			handler: () =>
				registry.ready ? respond({ status: "ready" }) : respond({ status: "starting" }, 503),
		},
		{
			config: {
				method: "get",
				path: "/models",
				summary: "Every model variant with its metadata",
				responses: { 200: json(ModelList, "The models") },
			},
			handler: () => respond({ models: registry.list().map((m) => m.info) }),
		},
		{
			config: {
				method: "get",
				path: "/models/{model}",
				summary: "One model variant",
				request: { params: ModelParam },
				responses: { 200: json(ModelInfo, "The model"), ...errors(404) },
			},
			handler: (c) => respond(requestedModel(c, registry).info),
		},
		{
			config: {
				method: "post",
				path: "/predict/{model}",
				summary: "Survival probability for one passenger",
				request: {
					params: ModelParam,
					body: { ...json(Passenger, "One passenger"), required: true },
				},
				responses: { 200: json(Prediction, "The prediction"), ...errors(400, 404, 413, 415) },
			},
			handler: predict(ONE_PASSENGER),
		},
		{
			config: {
				method: "post",
				path: "/predict/{model}/batch",
				summary: "Survival probabilities for 1 to 1000 passengers in one inference call",
				request: {
					params: ModelParam,
					body: { ...json(BatchRequest, "Up to 1000 passengers"), required: true },
				},
				responses: {
					200: json(BatchPrediction, "The predictions"),
					...errors(400, 404, 413, 415),
				},
			},
			handler: predict(BATCH),
		},
	];
}

/** Hono's pattern for an OpenAPI path: "/predict/{model}" -> "/predict/:model". */
export const routePattern = (openApiPath: string): string =>
	openApiPath.replace(/\{(\w+)\}/g, ":$1");

/**
 * Documents each route (unless `documented` is false: the bench's own routes) and mounts its
 * handler; returns the methods of each mounted path. The request is validated inside the handler
 * (not by a generated validator) so content type, size and JSON errors keep the service's envelope.
 */
export function mountRoutes(
	app: OpenAPIHono,
	routes: readonly ApiRoute[],
	{ documented = true }: { documented?: boolean } = {},
): Map<string, string[]> {
	const methodsByPath = new Map<string, string[]>();
	for (const { config, handler } of routes) {
		if (documented) {
			app.openAPIRegistry.registerPath(withSharedResponses(config, needsToken(config.path)));
		}
		const path = routePattern(config.path);
		const method = config.method.toUpperCase();
		app.on(method, path, handler);
		methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), method]);
	}
	return methodsByPath;
}
