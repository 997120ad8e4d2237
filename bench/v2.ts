import { readFileSync } from "node:fs";
import type { CellPlan } from "./plan.ts";

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

/** What one v2 cell's check needs of a server: its name and where the cell's requests go. */
interface Checked {
	readonly name: string;
	target(plan: CellPlan): { method: string; url: string; body: string };
}

/**
 * Sends one request per v2 cell before anything is measured: a model the server does not serve,
 * or an input it refuses, stops the bench with one line carrying the server's own message,
 * instead of a table of errors.
 */
export async function checkV2Cells(server: Checked, cells: readonly CellPlan[]): Promise<void> {
	const seen = new Set<string>();
	for (const plan of cells) {
		if (v2Path(plan.model) === null || seen.has(plan.model)) continue;
		seen.add(plan.model);
		const { method, url, body } = server.target(plan);
		const response = await fetch(url, {
			method,
			body,
			headers: { "content-type": "application/json" },
			signal: AbortSignal.timeout(30_000),
		});
		const text = await response.text();
		if (response.status === 200) continue;
		throw new V2Error(
			`--v2 ${plan.model.slice(V2_PREFIX.length)}: ${server.name} answered ${response.status} to ${method} ${plan.path}: ${errorMessage(text)}`,
		);
	}
}

/** The protocol's {"error": "..."} message, else the start of whatever the server sent. */
function errorMessage(text: string): string {
	try {
		const parsed = JSON.parse(text) as { error?: unknown };
		if (typeof parsed.error === "string") return parsed.error;
		const nested = (parsed.error as { message?: unknown } | undefined)?.message;
		if (typeof nested === "string") return nested;
	} catch {
		// Not JSON: quoted below.
	}
	const line = text.replace(/\s+/g, " ").trim();
	return line === "" ? "(empty body)" : line.slice(0, 200);
}
