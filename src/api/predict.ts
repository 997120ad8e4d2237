import type { Context } from "hono";
import type { z } from "zod";
import type { ModelId } from "../inference/model-info.ts";
import { encodeRows, FEATURE_COUNT, type RowEncoder } from "../inference/preprocess.ts";
import type { LoadedModel, Registry } from "../inference/registry.ts";
import type { ModelMetrics, ServiceMetrics } from "../metrics/service.ts";
import { type Accepts, compileAccepts } from "./accept.ts";
import { BODY_LIMITS, checkJsonHeaders, parseJsonBytes, readBody } from "./body.ts";
import { ApiError, issuesOf } from "./errors.ts";
import { countOwnRequest, errorStatus } from "./http-count.ts";
import { WARM_UP_ENV } from "./request-log.ts";
import { type Respond, serverTiming } from "./respond.ts";
import type { Handler } from "./route.ts";
import { type BatchPrediction, BatchRequest, Passenger, type Prediction } from "./schemas.ts";
import { guarded, type Soon, whenThere } from "./soon.ts";

/** The 404 for a model id the registry does not know; its message lists the known ones. */
function unknownModel(id: string, registry: Registry): ApiError {
	return new ApiError(
		404,
		"unknown_model",
		`unknown model ${JSON.stringify(id)}; known models: ${registry.ids.join(", ") || "none (the models folder has no manifest.json)"}`,
	);
}

/** The model named by the `model` path parameter, or the 404 that lists the known ones. */
export function requestedModel(c: Context, registry: Registry): LoadedModel {
	const id = c.req.param("model") ?? "";
	const model = registry.get(id);
	if (!model) throw unknownModel(id, registry);
	return model;
}

/**
 * What differs between predicting for one passenger and for a batch: the body's schema and size
 * limit, how it becomes the model input, and how the probabilities are answered.
 */
export interface PredictionShape<Body, Answer> {
	readonly schema: z.ZodType<Body>;
	/** The schema compiled to a check of valid bodies, or null where zod alone decides. */
	readonly accepts: Accepts | null;
	readonly limit: number;
	/** `row`, when given, is where one passenger may be encoded (inputRow); a batch sizes its own. */
	encode(body: Body, encodeRow: RowEncoder, row?: Float32Array): Float32Array;
	answer(model: ModelId, probabilities: Float32Array): Answer;
	/** The answer's JSON text. */
	serialise(model: ModelId, probabilities: Float32Array): string;
}

const outcome = (probability: number) => (probability >= 0.5 ? 1 : 0);

/** What JSON.stringify writes for a number: itself when finite, else null. */
const jsonNumber = (value: number) => (Number.isFinite(value) ? value : null);

export const ONE_PASSENGER: PredictionShape<Passenger, Prediction> = {
	schema: Passenger,
	accepts: compileAccepts(Passenger),
	limit: BODY_LIMITS.single,
	encode(passenger, encodeRow, row = new Float32Array(FEATURE_COUNT)) {
		encodeRow(passenger, row, 0);
		return row;
	},
	answer(model, probabilities) {
		const probability = probabilities[0] ?? Number.NaN;
		return { model, prediction: outcome(probability), probability };
	},
	// The answer's fixed shape written as a template: JSON.stringify of the object, less its walk.
	serialise(model, probabilities) {
		const probability = probabilities[0] ?? Number.NaN;
		return `{"model":${JSON.stringify(model)},"prediction":${outcome(probability)},"probability":${jsonNumber(probability)}}`;
	},
};

export const BATCH: PredictionShape<BatchRequest, BatchPrediction> = {
	schema: BatchRequest,
	accepts: compileAccepts(BatchRequest),
	limit: BODY_LIMITS.batch,
	encode: ({ instances }, encodeRow) => encodeRows(encodeRow, instances),
	answer: (model, probabilities) => ({
		model,
		predictions: Array.from(probabilities, (probability) => ({
			prediction: outcome(probability),
			probability,
		})),
	}),
	serialise(model, probabilities) {
		return JSON.stringify(this.answer(model, probabilities));
	},
};

function invalid(error: z.ZodError): ApiError {
	const issues = issuesOf(error);
	return new ApiError(400, "invalid_request", `${issues.length} invalid field(s)`, { issues });
}

/** The request body as the shape's type, or the 400 that lists every invalid field. */
export function validated<Body>(shape: PredictionShape<Body, unknown>, body: unknown): Body {
	if (shape.accepts?.(body)) return body as Body;
	const parsed = shape.schema.safeParse(body);
	if (!parsed.success) throw invalid(parsed.error);
	return parsed.data;
}

/**
 * One passenger's input row and one answer, lent to every call of a synchronous executor instead
 * of two new Float32Arrays per prediction. A prediction's steps from encoding to serialising the
 * answer run without a pause, so no two predictions hold them at once; an async executor
 * (onnxruntime's fallback) gets arrays of its own. Deno has no on-heap typed arrays: each one is
 * an allocation through its ArrayBuffer allocator, 1.4-1.7 µs in a tight loop against 0.1 on Node
 * and 0.03 on Bun. Lending both measured over HTTP (paired A/B, 15,000 pairs, balanced median):
 * Deno −3.1 and −3.7 µs on mlp-ts and gbdt-ts, −1.9 on mlp-onnx (the row only); Node and Bun
 * +1.0 to −2.7 over two runs, within their noise.
 */
const LENT = { row: new Float32Array(FEATURE_COUNT), answer: new Float32Array(1) };

/** Where one passenger is encoded for `model`: the lent row when its executor is synchronous. */
export const inputRow = (model: LoadedModel): Float32Array | undefined =>
	model.executor.async ? undefined : LENT.row;

/** The request body validated and preprocessed into the model's input. */
const modelInput = <Body>(
	shape: PredictionShape<Body, unknown>,
	body: unknown,
	model: LoadedModel,
): Float32Array => shape.encode(validated(shape, body), model.encode, inputRow(model));

/**
 * One executor call, timed from `startedAt`; `finish` gets the probabilities at once, unless the
 * executor is onnxruntime's async fallback (executor.ts): the common path never awaits. A
 * synchronous single-row call answers in the lent answer, which `finish` must read before it
 * returns.
 */
export function callModel<T>(
	model: LoadedModel,
	input: Float32Array,
	finish: (probabilities: Float32Array, startedAt: number) => T,
): Soon<T> {
	const rows = input.length / FEATURE_COUNT;
	const { executor } = model;
	const startedAt = performance.now();
	return executor.async
		? executor.predict(input, rows).then((probabilities) => finish(probabilities, startedAt))
		: finish(executor.predict(input, rows, rows === 1 ? LENT.answer : undefined), startedAt);
}

/**
 * The request's body bytes, its headers checked first: at once when the runtime already holds
 * them (body.ts, readBody), so the whole prediction runs without an await; else a promise.
 */
export function requestBody(c: Context, limit: number): Soon<Uint8Array> {
	checkJsonHeaders(c.req.raw, c.env);
	return readBody(c.req.raw, limit, c.env);
}

/**
 * The one prediction handler: read the bounded body, validate it, preprocess it into one
 * Float32Array, make one executor call, answer. Single and batch differ only in their shape.
 * With `metrics`, the handler that also records them; without, one with no recording code at all.
 */
export function predictHandler<Body, Answer>(
	shape: PredictionShape<Body, Answer>,
	registry: Registry,
	respond: Respond,
	metrics?: ServiceMetrics,
): Handler {
	if (metrics) return measuredPredictHandler(shape, registry, respond, metrics);
	return (c) => {
		const model = requestedModel(c, registry);
		return whenThere(requestBody(c, shape.limit), (bytes) =>
			callModel(
				model,
				modelInput(shape, parseJsonBytes(bytes), model),
				(probabilities, startedAt) => {
					const timing = serverTiming(performance.now() - startedAt);
					return respond.text(shape.serialise(model.id, probabilities), 200, timing);
				},
			),
		);
	};
}

/**
 * The same handler, recording into the model's preallocated series, found with the same one
 * lookup by id that finds the model. An unknown model is counted under no model (it has none);
 * any error once the model is known counts as a failure. Warm-up requests are not counted.
 */
function measuredPredictHandler<Body, Answer>(
	shape: PredictionShape<Body, Answer>,
	registry: Registry,
	respond: Respond,
	metrics: ServiceMetrics,
): Handler {
	const byId = new Map<string, { model: LoadedModel; record: ModelMetrics }>(
		registry.list().map((model) => [model.id, { model, record: metrics.model(model.id) }]),
	);
	return (c) => {
		const enteredAt = performance.now();
		const counted = c.env !== WARM_UP_ENV;
		const route = counted ? countOwnRequest() : 0;
		const method = c.req.method;
		const id = c.req.param("model") ?? "";
		const target = byId.get(id);
		if (!target) {
			if (counted) metrics.http.count(route, method, 404);
			throw unknownModel(id, registry);
		}
		const { model, record } = target;
		const failed = (error: unknown): never => {
			if (counted) {
				record.failed();
				metrics.http.count(route, method, errorStatus(error));
			}
			throw error;
		};
		const answer = (bytes: Uint8Array) => {
			const input = modelInput(shape, parseJsonBytes(bytes), model);
			return callModel(model, input, (probabilities, startedAt) => {
				// One clock read ends both intervals: recording then reads the clock once more than not.
				const answeredAt = performance.now();
				const inferMs = answeredAt - startedAt;
				const text = shape.serialise(model.id, probabilities);
				const response = respond.text(text, 200, serverTiming(inferMs));
				if (counted) {
					const rows = input.length / FEATURE_COUNT;
					record.succeeded((answeredAt - enteredAt) / 1000, inferMs / 1000, rows);
					metrics.http.count(route, method, 200);
				}
				return response;
			});
		};
		return guarded(() => whenThere(requestBody(c, shape.limit), answer), failed);
	};
}
