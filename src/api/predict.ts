import type { Context } from "hono";
import type { z } from "zod";
import type { ModelId } from "../inference/model-info.ts";
import { encodeRows, FEATURE_COUNT, type RowEncoder } from "../inference/preprocess.ts";
import type { LoadedModel, Registry } from "../inference/registry.ts";
import { BODY_LIMITS, readJson } from "./body.ts";
import { ApiError, issuesOf } from "./errors.ts";
import type { Respond } from "./respond.ts";
import { type BatchPrediction, BatchRequest, Passenger, type Prediction } from "./schemas.ts";

export type Handler = (c: Context) => Response | Promise<Response>;

/** The model named by the `model` path parameter, or the 404 that lists the known ones. */
export function requestedModel(c: Context, registry: Registry): LoadedModel {
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

/**
 * What differs between predicting for one passenger and for a batch: the body's schema and size
 * limit, how it becomes the model input, and how the probabilities are answered.
 */
export interface PredictionShape<Body, Answer> {
	readonly schema: z.ZodType<Body>;
	readonly limit: number;
	encode(body: Body, encodeRow: RowEncoder): Float32Array;
	answer(model: ModelId, probabilities: Float32Array): Answer;
}

const outcome = (probability: number) => (probability >= 0.5 ? 1 : 0);

export const ONE_PASSENGER: PredictionShape<Passenger, Prediction> = {
	schema: Passenger,
	limit: BODY_LIMITS.single,
	encode(passenger, encodeRow) {
		const input = new Float32Array(FEATURE_COUNT);
		encodeRow(passenger, input, 0);
		return input;
	},
	answer(model, probabilities) {
		const probability = probabilities[0] ?? Number.NaN;
		return { model, prediction: outcome(probability), probability };
	},
};

export const BATCH: PredictionShape<BatchRequest, BatchPrediction> = {
	schema: BatchRequest,
	limit: BODY_LIMITS.batch,
	encode: ({ instances }, encodeRow) => encodeRows(encodeRow, instances),
	answer: (model, probabilities) => ({
		model,
		predictions: Array.from(probabilities, (probability) => ({
			prediction: outcome(probability),
			probability,
		})),
	}),
};

function invalid(error: z.ZodError): ApiError {
	const issues = issuesOf(error);
	return new ApiError(400, "invalid_request", `${issues.length} invalid field(s)`, { issues });
}

/** The model call's own time, so clients and the bench can tell it from HTTP time. */
function serverTiming(startedAt: number): Record<string, string> {
	return { "server-timing": `infer;dur=${(performance.now() - startedAt).toFixed(3)}` };
}

/**
 * The one prediction handler: read the bounded body, validate it, preprocess it into one
 * Float32Array, make one executor call, answer. Single and batch differ only in their shape.
 */
export function predictHandler<Body, Answer>(
	shape: PredictionShape<Body, Answer>,
	registry: Registry,
	respond: Respond,
): Handler {
	return async (c) => {
		const model = requestedModel(c, registry);
		const parsed = shape.schema.safeParse(await readJson(c.req.raw, shape.limit));
		if (!parsed.success) throw invalid(parsed.error);
		const input = shape.encode(parsed.data, model.encode);
		const rows = input.length / FEATURE_COUNT;
		const { executor } = model;
		const startedAt = performance.now();
		// Only onnxruntime's fallback is async (executor.ts); the common path never awaits.
		const probabilities = executor.async
			? await executor.predict(input, rows)
			: executor.predict(input, rows);
		const timing = serverTiming(startedAt);
		return respond(shape.answer(model.id, probabilities), 200, timing);
	};
}
