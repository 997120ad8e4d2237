import * as ort from "onnxruntime-node";
import type { Executor } from "./executor.ts";
import type { ModelEntry, TensorSpec } from "./manifest.ts";
import { FEATURE_COUNT } from "./preprocess.ts";

/**
 * One thread, sequential execution: these graphs take microseconds, so a thread pool's hand-off
 * and spinning cost more than they save, and spinning threads would steal the core the HTTP
 * server needs. README's "onnxruntime session options" section has the measurement.
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
	executionProviders: ["cpu"],
	graphOptimizationLevel: "all",
	executionMode: "sequential",
	intraOpNumThreads: 1,
	interOpNumThreads: 1,
	logSeverityLevel: 3,
	extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
};

/** Names the mismatch between what the manifest promises and what the graph declares, or null. */
function mismatch(
	kind: "input" | "output",
	declared: readonly ort.InferenceSession.ValueMetadata[],
	expected: readonly TensorSpec[],
): string | null {
	if (kind === "input" && declared.length !== expected.length) {
		return `has ${declared.length} inputs, the manifest expects ${expected.length}`;
	}
	for (const spec of expected) {
		const found = declared.find((d) => d.name === spec.name);
		if (!found) return `has no ${kind} "${spec.name}"`;
		if (!found.isTensor || found.type !== spec.type) {
			return `${kind} "${spec.name}" is not a ${spec.type} tensor`;
		}
		const shape = found.shape.map((d) => (typeof d === "string" ? "N" : d)).join(",");
		if (shape !== spec.shape.join(",")) {
			return `${kind} "${spec.name}" has shape [${shape}], the manifest says [${spec.shape.join(",")}]`;
		}
	}
	return null;
}

/**
 * Runs an ONNX graph with onnxruntime-node. The session is created from the bytes whose sha256
 * was checked, so what runs is exactly what the manifest names.
 */
export async function createOnnxExecutor(bytes: Uint8Array, entry: ModelEntry): Promise<Executor> {
	const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
	const problem =
		mismatch("input", session.inputMetadata, entry.inputs) ??
		mismatch("output", session.outputMetadata, entry.outputs);
	if (problem) {
		await session.release();
		throw new Error(problem);
	}
	const inputName = entry.inputs[0]?.name ?? "";
	const { output, column } = entry.probability;
	const width = Number(entry.outputs.find((o) => o.name === output)?.shape[1] ?? 1);
	const fetches = [output];

	return {
		backend: "onnxruntime",
		async predict(input, rows) {
			const feeds = { [inputName]: new ort.Tensor("float32", input, [rows, FEATURE_COUNT]) };
			const result = await session.run(feeds, fetches);
			const data = result[output]?.data as Float32Array;
			if (width === 1) return data;
			const probabilities = new Float32Array(rows);
			for (let i = 0; i < rows; i++) probabilities[i] = data[i * width + column] ?? Number.NaN;
			return probabilities;
		},
		close: () => session.release(),
	};
}
