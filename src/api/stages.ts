import type { OpenAPIHono } from "@hono/zod-openapi";
import { FEATURE_COUNT } from "../inference/preprocess.ts";
import type { Registry } from "../inference/registry.ts";
import type { ServiceMetrics } from "../metrics/service.ts";
import { instrumentRoutes } from "./bench-routes.ts";
import { parseJsonBytes } from "./body.ts";
import {
	callModel,
	inputRow,
	type PredictionShape,
	requestBody,
	requestedModel,
	validated,
} from "./predict.ts";
import { WARM_UP_ENV } from "./request-log.ts";
import { type Respond, serverTiming } from "./respond.ts";
import type { ApiRoute, Handler } from "./route.ts";
import { guarded, whenThere } from "./soon.ts";

/**
 * STAGES=1: where a prediction's time goes, stage by stage, read with performance.now() between
 * the steps the ordinary handler takes. Only the bench sets it; without it none of this module is
 * on the request path (app.ts picks the ordinary handlers), so the switch costs nothing when off.
 */

export const STAGES = [
	"route",
	"read",
	"parse",
	"validate",
	"encode",
	"infer",
	"serialise",
	"respond",
] as const;
export const STAGES_PATH = "/bench/stages";

/** The most recent samples kept per model: a ring, so a long run cannot grow memory. */
const CAPACITY = 1 << 16;

/** One model's recent stage durations (ms), stage-major, in a ring of CAPACITY requests. */
class ModelSamples {
	readonly durations = new Float64Array(STAGES.length * CAPACITY);
	count = 0;

	/** `marks` holds STAGES.length + 1 clock readings: each stage runs from one to the next. */
	add(marks: Float64Array): void {
		const slot = this.count % CAPACITY;
		for (let stage = 0; stage < STAGES.length; stage++) {
			this.durations[stage * CAPACITY + slot] = (marks[stage + 1] ?? 0) - (marks[stage] ?? 0);
		}
		this.count++;
	}

	summary() {
		const kept = Math.min(this.count, CAPACITY);
		const p50: Record<string, number> = {};
		const mean: Record<string, number> = {};
		STAGES.forEach((stage, index) => {
			const values = this.durations.slice(index * CAPACITY, index * CAPACITY + kept).sort();
			p50[stage] = microseconds(values[kept >> 1] ?? 0);
			mean[stage] = microseconds(values.reduce((sum, v) => sum + v, 0) / kept);
		});
		return { count: this.count, p50, mean };
	}
}

const microseconds = (ms: number) => Math.round(ms * 10_000) / 10;

/** Every model's stage samples, and the clock reading at which the current dispatch began. */
export class StageTimes {
	private readonly byModel = new Map<string, ModelSamples>();
	/** Set by the fetch wrapper; read by the handler Hono calls synchronously from that fetch. */
	dispatchedAt = 0;

	add(model: string, marks: Float64Array): void {
		let samples = this.byModel.get(model);
		if (!samples) {
			samples = new ModelSamples();
			this.byModel.set(model, samples);
		}
		samples.add(marks);
	}

	clear(): void {
		this.byModel.clear();
	}

	summary() {
		const models = Object.fromEntries(
			[...this.byModel].map(([model, samples]) => [model, samples.summary()]),
		);
		return { unit: "us", stages: STAGES, models };
	}

	/** Notes when each request's dispatch begins, so the handler can tell Hono's share. */
	watch(app: OpenAPIHono): void {
		const dispatch = app.fetch;
		app.fetch = (request, env, executionCtx) => {
			this.dispatchedAt = performance.now();
			return dispatch(request, env, executionCtx);
		};
	}
}

/**
 * The prediction handler with a clock reading between its steps; the steps are the ordinary
 * handler's own functions. Recorded under the model's id, warm-up requests excepted; model
 * metrics are recorded as the measured handler does, HTTP counts by the fetch wrapper.
 */
export function stagedPredictHandler<Body, Answer>(
	shape: PredictionShape<Body, Answer>,
	registry: Registry,
	respond: Respond,
	times: StageTimes,
	metrics?: ServiceMetrics,
): Handler {
	return (c) => {
		const marks = new Float64Array(STAGES.length + 1);
		marks[0] = times.dispatchedAt;
		marks[1] = performance.now();
		const model = requestedModel(c, registry);
		const record = c.env === WARM_UP_ENV ? undefined : metrics?.model(model.id);
		const failed = (error: unknown): never => {
			record?.failed();
			throw error;
		};
		const answer = (bytes: Uint8Array) => {
			marks[2] = performance.now();
			const value = parseJsonBytes(bytes);
			marks[3] = performance.now();
			const body = validated(shape, value);
			marks[4] = performance.now();
			const input = shape.encode(body, model.encode, inputRow(model));
			return callModel(model, input, (probabilities, startedAt) => {
				marks[5] = startedAt;
				marks[6] = performance.now();
				const text = shape.serialise(model.id, probabilities);
				marks[7] = performance.now();
				const response = respond.text(text, 200, serverTiming(marks[6] - marks[5]));
				marks[8] = performance.now();
				if (c.env !== WARM_UP_ENV) times.add(model.id, marks);
				// As the measured handler: the request's time ends at the model's answer.
				const rows = input.length / FEATURE_COUNT;
				record?.succeeded((marks[6] - marks[1]) / 1000, (marks[6] - marks[5]) / 1000, rows);
				return response;
			});
		};
		return guarded(() => whenThere(requestBody(c, shape.limit), answer), failed);
	};
}

/** GET /bench/stages: every model's stage p50 and mean (µs); DELETE clears them. */
export const stageRoutes = (times: StageTimes, respond: Respond): ApiRoute[] =>
	instrumentRoutes(STAGES_PATH, "stage durations of the predictions", times, respond);
