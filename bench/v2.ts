import { readFileSync } from "node:fs";

/**
 * --v2 NAME --input FILE: a model of the user's own, served over the Open Inference Protocol
 * (`POST /v2/models/NAME/infer`), measured as cell `v2:NAME` on every runtime.
 */

export const V2_PREFIX = "v2:";

/**
 * The service's model-name rule (src/inference/repository.ts, MODEL_NAME), restated because the
 * bench reaches the service only over HTTP; tests/bench/v2.test.ts checks the two agree.
 */
export const V2_MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class V2Error extends Error {}

export const v2Cell = (name: string): string => `${V2_PREFIX}${name}`;

/** The infer path of a `v2:NAME` cell; null for any other cell. */
export function v2Path(model: string): string | null {
	if (!model.startsWith(V2_PREFIX)) return null;
	return `/v2/models/${encodeURIComponent(model.slice(V2_PREFIX.length))}/infer`;
}

/** NAME as --v2 gives it, or the one-line reason it cannot be a model's name. */
export function checkV2Name(name: string): string {
	if (!V2_MODEL_NAME.test(name)) {
		throw new V2Error(
			`--v2 "${name}" is not a model name (${V2_MODEL_NAME.source.slice(1, -1)}: the file NAME.onnx in the models folder)`,
		);
	}
	return name;
}

/** The --input file as the request body: readable JSON, an object with an `inputs` array. */
export function readV2Input(file: string): string {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
		throw new V2Error(`--input: cannot read ${file} (${code})`);
	}
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		throw new V2Error(`--input: ${file} is not JSON`);
	}
	const inputs = (body as { inputs?: unknown } | null)?.inputs;
	if (typeof body !== "object" || Array.isArray(body) || !Array.isArray(inputs)) {
		throw new V2Error(
			`--input: ${file} is not a V2 inference request (a JSON object with an "inputs" array)`,
		);
	}
	return text.trim();
}
