import * as ort from "onnxruntime-node";
import ortBinding, { type Binding } from "onnxruntime-node/dist/binding.js";
import type { Executor } from "./executor.ts";
import type { ModelEntry, TensorSpec } from "./manifest.ts";
import { FEATURE_COUNT } from "./preprocess.ts";

/**
 * One thread, sequential execution, no spinning: these graphs take microseconds, so a thread
 * pool's hand-off costs more than it saves and a spinning thread would steal the core the HTTP
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

// ONNX TensorProto element types, as the binding reports them.
const ELEMENT_TYPES: Record<number, TensorSpec["type"]> = { 1: "float32", 7: "int64" };

/** Names the mismatch between what the manifest promises and what the graph declares, or null. */
function mismatch(
	kind: "input" | "output",
	declared: readonly Binding.ValueMetadata[],
	expected: readonly TensorSpec[],
): string | null {
	if (kind === "input" && declared.length !== expected.length) {
		return `has ${declared.length} inputs, the manifest expects ${expected.length}`;
	}
	for (const spec of expected) {
		const found = declared.find((d) => d.name === spec.name);
		if (!found) return `has no ${kind} "${spec.name}"`;
		if (!found.isTensor || ELEMENT_TYPES[found.type] !== spec.type) {
			return `${kind} "${spec.name}" is not a tensor of ${spec.type}`;
		}
		const shape = found.shape.map((d) => (d === -1 ? "N" : d)).join(",");
		if (shape !== spec.shape.join(",")) {
			return `${kind} "${spec.name}" has shape [${shape}], the manifest says [${spec.shape.join(",")}]`;
		}
	}
	return null;
}

/**
 * Runs an ONNX graph with onnxruntime-node's native session, called synchronously.
 *
 * The public `InferenceSession.run()` calls this same synchronous native `run` (on the main
 * thread, not a worker), only deferred by a setImmediate and re-wrapped in new Tensor objects.
 * For graphs that take microseconds that detour is most of the cost: measured in-process on
 * the development machine, 17-26 us a call through the public API against 7-12 us direct, and
 * over HTTP it doubled Node's latency. The binding is typed (dist/binding.d.ts) and the version
 * is pinned; tests check it against the TypeScript executors on every training row.
 *
 * The session is created from the bytes whose sha256 was checked, so what runs is exactly what
 * the manifest names.
 */
export function createOnnxExecutor(bytes: Uint8Array, entry: ModelEntry): Executor {
	ortBinding.initOrt();
	const session = new ortBinding.binding.InferenceSession();
	session.loadModel(
		bytes.buffer as ArrayBuffer,
		bytes.byteOffset,
		bytes.byteLength,
		SESSION_OPTIONS,
	);
	const problem =
		mismatch("input", session.inputMetadata, entry.inputs) ??
		mismatch("output", session.outputMetadata, entry.outputs);
	if (problem) {
		session.dispose();
		throw new Error(problem);
	}
	const inputName = entry.inputs[0]?.name ?? "";
	const { output, column } = entry.probability;
	const width = Number(entry.outputs.find((o) => o.name === output)?.shape[1] ?? 1);
	const fetches = { [output]: null };
	const runOptions = {};

	return {
		backend: "onnxruntime",
		predict(input, rows) {
			const feeds = { [inputName]: new ort.Tensor("float32", input, [rows, FEATURE_COUNT]) };
			const data = session.run(feeds, fetches, runOptions)[output]?.data as Float32Array;
			if (width === 1) return data;
			const probabilities = new Float32Array(rows);
			for (let i = 0; i < rows; i++) probabilities[i] = data[i * width + column] ?? Number.NaN;
			return probabilities;
		},
		close: async () => session.dispose(),
	};
}
