import { z } from "@hono/zod-openapi";
import { DATATYPE_NAMES } from "../../inference/tensors.ts";

/**
 * The Open Inference Protocol's REST shapes (kserve/open-inference-protocol,
 * specification/protocol/inference_rest.md): they validate requests, type the handlers and
 * document the /v2 routes.
 */

const Parameters = z
	.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
	.openapi({ description: "Name/value pairs; none is defined by the protocol or used here" });

const Shape = z.array(z.number(), { error: "shape must be an array of whole numbers" }).openapi({
	description: "One size per dimension; -1 in metadata marks any size",
	example: [1, 6],
});

const Datatype = z.string({ error: "datatype must be a string" }).openapi({
	description: `One of ${DATATYPE_NAMES.join(", ")}`,
	example: "FP32",
});

const TensorData = z.custom<unknown[]>(Array.isArray, { error: "data must be an array" }).openapi({
	type: "array",
	items: {},
	description:
		"The elements in row-major order, flat or nested as the shape; numbers, or true/false for BOOL",
	example: [3, 1, 22, 1, 0, 7.25],
});

const TensorMetadata = z.object({ name: z.string(), datatype: Datatype, shape: Shape });

export const ModelParam = z.object({
	model: z.string().openapi({ param: { name: "model", in: "path" }, example: "gbdt-onnx" }),
});
export const VersionedParams = ModelParam.extend({
	version: z.string().openapi({ param: { name: "version", in: "path" }, example: "1" }),
});

export const InferRequest = z
	.object(
		{
			id: z.string({ error: "id must be a string" }).optional(),
			parameters: Parameters.optional(),
			inputs: z
				.array(
					z.object(
						{
							name: z.string({ error: "name must be a string" }),
							shape: Shape,
							datatype: Datatype,
							parameters: Parameters.optional(),
							data: TensorData,
						},
						{ error: "each input must be an object {name, shape, datatype, data}" },
					),
					{ error: "inputs must be an array" },
				)
				.min(1, "inputs must hold at least one tensor"),
			outputs: z
				.array(
					z.object(
						{
							name: z.string({ error: "name must be a string" }),
							parameters: Parameters.optional(),
						},
						{ error: "each requested output must be an object {name}" },
					),
					{ error: "outputs must be an array" },
				)
				.min(1, "outputs must name at least one output, or be left out for all of them")
				.optional()
				.openapi({ description: "Only these outputs are answered; all of them when absent" }),
		},
		{ error: 'the body must be a JSON object {"inputs": [...]}' },
	)
	.openapi("InferRequest");
export type InferRequest = z.infer<typeof InferRequest>;

export const InferResponse = z
	.object({
		model_name: z.string(),
		model_version: z.string().optional().openapi({ description: "When the request named one" }),
		id: z.string().optional().openapi({ description: "The request's id, when it had one" }),
		outputs: z.array(TensorMetadata.extend({ data: TensorData })),
	})
	.openapi("InferResponse");

export const ServerMetadata = z
	.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
	.openapi("ServerMetadata");

export const ModelMetadata = z
	.object({
		name: z.string(),
		versions: z.array(z.string()),
		platform: z.string().openapi({ example: "onnxruntime_onnx" }),
		inputs: z.array(TensorMetadata),
		outputs: z.array(TensorMetadata),
	})
	.openapi("ModelMetadata");

const ConfigTensor = z.object({
	name: z.string(),
	data_type: z.string().openapi({ example: "TYPE_FP32" }),
	dims: z.array(z.number()),
});

export const ModelConfig = z
	.object({
		name: z.string(),
		platform: z.string(),
		max_batch_size: z
			.number()
			.openapi({ description: "0: dims include the batch dimension, as the graph declares it" }),
		input: z.array(ConfigTensor),
		output: z.array(ConfigTensor),
	})
	.openapi("ModelConfig");

export const ServerLive = z.object({ live: z.boolean() }).openapi("ServerLive");
export const ServerReady = z.object({ ready: z.boolean() }).openapi("ServerReady");
export const ModelReady = z.object({ name: z.string(), ready: z.boolean() }).openapi("ModelReady");

export const ProtocolError = z
	.object({ error: z.string().openapi({ description: "What is wrong, naming the field" }) })
	.openapi("ProtocolError");
