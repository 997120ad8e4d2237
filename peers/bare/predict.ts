import { callModel, inputRow, ONE_PASSENGER } from "../../src/api/predict.ts";
import { PASSENGER_FIELDS, type Passenger } from "../../src/api/schemas.ts";
import { type LoadedModel, loadRegistry } from "../../src/inference/registry.ts";
import { HEADERS } from "./answer.ts";

/**
 * What a bare server does for POST /predict/:model, the least any server on its runtime must: the
 * service's own model layer (the same executors and preprocessing, src/inference), loaded once and
 * each executor called at startup, then per request the body parsed, one row encoded, one executor
 * call and the service's answer. No schema validation: a lower bound, not a server to deploy.
 */

export const PREDICT_PREFIX = "/predict/";

/** The models folder loaded and warmed (registry.warm: each executor called), before listening. */
export async function loadModels(modelsDir: string | undefined): Promise<Map<string, LoadedModel>> {
	const registry = await loadRegistry(modelsDir || "models", PASSENGER_FIELDS);
	await registry.warm();
	return new Map(registry.list().map((model) => [model.id, model]));
}

/** The body's passenger as the model's input, or null where the body is not a JSON object. */
export function passengerInput(text: string, model: LoadedModel): Float32Array | null {
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		return null;
	}
	// Unvalidated: a missing or mistyped field becomes NaN, which every executor answers.
	if (typeof body !== "object" || body === null) return null;
	return ONE_PASSENGER.encode(body as Passenger, model.encode, inputRow(model));
}

/** A prediction's answer: its JSON text, as the service writes it, and its Server-Timing value. */
export interface Answer {
	readonly text: string;
	readonly timing: string;
}

function answerOf(model: LoadedModel, probabilities: Float32Array, startedAt: number): Answer {
	const timing = `infer;dur=${(performance.now() - startedAt).toFixed(3)}`;
	return { text: ONE_PASSENGER.serialise(model.id, probabilities), timing };
}

/**
 * One executor call through the service's own callModel: timed as it times it, in the same lent
 * memory. A promise only on onnxruntime's async fallback: the common path returns at once, as
 * the service's handler does without awaiting.
 */
export const predictOne = (model: LoadedModel, input: Float32Array): Answer | Promise<Answer> =>
	callModel(model, input, (probabilities, startedAt) => answerOf(model, probabilities, startedAt));

/** Bun.serve's and Deno.serve's answer to a prediction: the Response, or a bare 404 or 400. */
export async function predictionResponse(
	model: LoadedModel | undefined,
	body: string,
): Promise<Response> {
	if (!model) return new Response(null, { status: 404 });
	const input = passengerInput(body, model);
	if (!input) return new Response(null, { status: 400 });
	const answered = predictOne(model, input);
	const { text, timing } = answered instanceof Promise ? await answered : answered;
	return new Response(text, { headers: { ...HEADERS, "server-timing": timing } });
}
