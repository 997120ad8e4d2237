import packageJson from "../../../package.json" with { type: "json" };
import type { Registry } from "../../inference/registry.ts";
import { MODEL_VERSION, type TensorModel } from "../../inference/tensor-model.ts";
import { DATATYPES } from "../../inference/tensors.ts";
import type { ServiceMetrics } from "../../metrics/service.ts";
import { json, protocolErrors } from "../openapi.ts";
import type { Respond } from "../respond.ts";
import type { ApiRoute, Handler } from "../route.ts";
import { type Catalogue, createCatalogue } from "./catalogue.ts";
import { type InferLimits, inferHandler } from "./infer.ts";
import {
	InferRequest,
	InferResponse,
	ModelConfig,
	ModelMetadata,
	ModelParam,
	ModelReady,
	ServerLive,
	ServerMetadata,
	ServerReady,
	VersionedParams,
} from "./schemas.ts";

/** The Open Inference Protocol's REST routes ("V2"), with the model and versioned forms of each. */

const metadata = (model: TensorModel) => ({
	name: model.name,
	versions: [MODEL_VERSION],
	platform: model.platform,
	inputs: model.inputs,
	outputs: model.outputs,
});

/** A minimal Triton model config: enough for perf_analyzer to build its requests. */
const config = (model: TensorModel) => {
	const tensors = (specs: TensorModel["inputs"]) =>
		specs.map((s) => ({ name: s.name, data_type: DATATYPES[s.datatype].triton, dims: s.shape }));
	return {
		name: model.name,
		platform: model.platform,
		max_batch_size: 0,
		input: tensors(model.inputs),
		output: tensors(model.outputs),
	};
};

const SERVER = { name: packageJson.name, version: packageJson.version, extensions: [] };

const TAGS = ["Open Inference Protocol"];

/** The server-wide routes: metadata and the two health probes. */
function serverRoutes(registry: Registry, respond: Respond): ApiRoute[] {
	return [
		{
			config: {
				method: "get",
				path: "/v2",
				summary: "Server metadata",
				tags: TAGS,
				responses: { 200: json(ServerMetadata, "Name, version, extensions") },
			},
			handler: () => respond(SERVER),
		},
		{
			config: {
				method: "get",
				path: "/v2/health/live",
				summary: "Liveness: the process answers",
				tags: TAGS,
				responses: { 200: json(ServerLive, "Alive") },
			},
			handler: () => respond({ live: true }),
		},
		{
			config: {
				method: "get",
				path: "/v2/health/ready",
				summary: "Readiness: every model is loaded and warmed",
				tags: TAGS,
				responses: { 200: json(ServerReady, "Ready"), 503: json(ServerReady, "Still warming up") },
			},
			handler: () => respond({ ready: registry.ready }, registry.ready ? 200 : 503),
		},
	];
}

/** The per-model routes under `prefix`, the model's own path or its versioned one. */
interface ModelRouteParts {
	readonly catalogue: Catalogue;
	readonly infer: Handler;
	readonly registry: Registry;
	readonly respond: Respond;
}

function modelRoutes(
	prefix: string,
	params: typeof ModelParam | typeof VersionedParams,
	{ catalogue, infer, registry, respond }: ModelRouteParts,
): ApiRoute[] {
	const tags = TAGS;
	const request = { params };
	return [
		{
			config: {
				method: "get",
				path: prefix,
				summary: "Model metadata: inputs and outputs with datatypes and shapes",
				tags,
				request,
				responses: { 200: json(ModelMetadata, "The model"), ...protocolErrors(404) },
			},
			handler: (c) => respond(metadata(catalogue.requested(c).model)),
		},
		{
			config: {
				method: "get",
				path: `${prefix}/ready`,
				summary: "Model readiness",
				tags,
				request,
				responses: {
					200: json(ModelReady, "Ready"),
					503: json(ModelReady, "Still warming up"),
					...protocolErrors(404),
				},
			},
			handler: (c) => {
				const { model } = catalogue.requested(c);
				return respond({ name: model.name, ready: registry.ready }, registry.ready ? 200 : 503);
			},
		},
		{
			config: {
				method: "get",
				path: `${prefix}/config`,
				summary: "A minimal Triton model configuration (for perf_analyzer)",
				tags,
				request,
				responses: { 200: json(ModelConfig, "The configuration"), ...protocolErrors(404) },
			},
			handler: (c) => respond(config(catalogue.requested(c).model)),
		},
		{
			config: {
				method: "post",
				path: `${prefix}/infer`,
				summary: "Inference: tensors in, the requested outputs back",
				tags,
				request: {
					...request,
					body: { ...json(InferRequest, "The input tensors"), required: true },
				},
				responses: {
					200: json(InferResponse, "The output tensors"),
					...protocolErrors(400, 404, 413, 415),
				},
			},
			handler: infer,
		},
	];
}

export function protocolRoutes(
	registry: Registry,
	limits: InferLimits,
	respond: Respond,
	metrics?: ServiceMetrics,
): ApiRoute[] {
	const catalogue = createCatalogue(registry);
	const parts = {
		catalogue,
		infer: inferHandler(catalogue, limits, respond, metrics),
		registry,
		respond,
	};
	return [
		...serverRoutes(registry, respond),
		...modelRoutes("/v2/models/{model}", ModelParam, parts),
		...modelRoutes("/v2/models/{model}/versions/{version}", VersionedParams, parts),
	];
}
