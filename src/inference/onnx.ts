import * as ort from "onnxruntime-node";
import type { AsyncExecutor, Executor, SyncExecutor } from "./executor.ts";
import type { ModelEntry, TensorSpec } from "./manifest.ts";
import { type GraphValue, loadNativeOrt, type NativeOrt, nativeTensor } from "./ort-native.ts";
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
	// Fatal only: a request the graph refuses is answered with the reason, not logged by onnxruntime
	// (any client could otherwise fill the log with its colored lines and source paths).
	logSeverityLevel: 4,
	extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
};

/**
 * How this process runs ONNX graphs, chosen once at startup: onnxruntime-node's native session
 * called synchronously, or, when that binding is not the tested one, the public async API.
 */
export type OrtBackend =
	| { readonly kind: "native"; readonly ort: NativeOrt }
	| { readonly kind: "public" };

/**
 * Picks the backend; on fallback, `warn` gets one line saying why. The public API runs the same
 * native code, so results agree; it only costs more per call (README, "Hot path").
 */
export async function chooseOrtBackend(options: {
	warn: (line: string) => void;
	/** The onnxruntime-node version the native path accepts; tests pass another to force the fallback. */
	testedVersion?: string;
}): Promise<OrtBackend> {
	const result = await loadNativeOrt(options.testedVersion);
	if ("native" in result) return { kind: "native", ort: result.native };
	options.warn(
		`${result.unavailable}: running ONNX models through the public InferenceSession API, slower per call`,
	);
	return { kind: "public" };
}

/** Names the mismatch between what the manifest promises and what the graph declares, or null. */
function mismatch(
	kind: "input" | "output",
	declared: readonly GraphValue[],
	expected: readonly TensorSpec[],
): string | null {
	if (kind === "input" && declared.length !== expected.length) {
		return `has ${declared.length} inputs, the manifest expects ${expected.length}`;
	}
	for (const spec of expected) {
		const found = declared.find((d) => d.name === spec.name);
		if (!found) return `has no ${kind} "${spec.name}"`;
		if (!found.isTensor || found.type !== spec.type) {
			return `${kind} "${spec.name}" is not a tensor of ${spec.type}`;
		}
		const shape = found.shape.join(",");
		if (shape !== spec.shape.join(",")) {
			return `${kind} "${spec.name}" has shape [${shape}], the manifest says [${spec.shape.join(",")}]`;
		}
	}
	return null;
}

const graphProblem = (
	inputs: readonly GraphValue[],
	outputs: readonly GraphValue[],
	entry: ModelEntry,
) => mismatch("input", inputs, entry.inputs) ?? mismatch("output", outputs, entry.outputs);

/** The manifest's probability output and column, as the executors read them. */
function probabilityOf(entry: ModelEntry) {
	const { output, column } = entry.probability;
	const width = Number(entry.outputs.find((o) => o.name === output)?.shape[1] ?? 1);
	return { inputName: entry.inputs[0]?.name ?? "", output, column, width };
}

/** Column `column` of a [rows, width] output; the output itself when it has one column. */
function probabilityColumn(data: Float32Array, rows: number, width: number, column: number) {
	if (width === 1) return data;
	const probabilities = new Float32Array(rows);
	for (let i = 0; i < rows; i++) probabilities[i] = data[i * width + column] ?? Number.NaN;
	return probabilities;
}

/**
 * The public `InferenceSession.run()` calls the same synchronous native `run` (on the main
 * thread, not a worker), only deferred by a setImmediate and re-wrapped in new Tensor objects.
 * For graphs that take microseconds that detour is most of the cost: measured in-process on the
 * development machine, 17-26 us a call through the public API against 7-12 us direct, and over
 * HTTP it doubled Node's latency. Tests check both paths against the TypeScript executors.
 *
 * Each call hands the binding a plain feed object (ort-native.ts, `nativeTensor`) in a feeds
 * object made once, and no run options. Measured in-process, one row, pinned to one core, each
 * variant alternated with the previous code in 16-40 blocks: 0.6-1.3 us less a call on Node,
 * Bun and Deno for both models (the plain feed and the omitted run options about 0.3-0.5 us
 * each, the feeds object 0.2-0.3 on Node and Deno), and 1-2 us less in most runs where each
 * call follows a 100 us sleep, the closest in-process proxy for a call between HTTP requests.
 * Copying the input into one reused ort.Tensor measured no better than a new one, and a
 * preallocated output worse (the binding still copies the result into a new tensor).
 */
function createNativeExecutor(
	native: NativeOrt,
	bytes: Uint8Array,
	entry: ModelEntry,
): SyncExecutor {
	const { session, inputs, outputs } = native.open(bytes, SESSION_OPTIONS);
	const problem = graphProblem(inputs, outputs, entry);
	if (problem) {
		session.dispose();
		throw new Error(problem);
	}
	const { inputName, output, column, width } = probabilityOf(entry);
	const fetches = { [output]: null };
	// One feeds object whose one key is set here: a `{ [inputName]: ... }` literal per call cost
	// Node and Deno another 0.2-0.3 us. Sharing it is safe: run() is synchronous and reads the
	// feed only during the call, so each call's input replaces the last before anything reads it.
	const feeds = { [inputName]: nativeTensor("float32", new Float32Array(0), [0, FEATURE_COUNT]) };
	return {
		backend: "onnxruntime",
		predict(input, rows) {
			feeds[inputName] = nativeTensor("float32", input, [rows, FEATURE_COUNT]);
			const data = session.run(feeds, fetches)[output]?.data as Float32Array;
			return probabilityColumn(data, rows, width, column);
		},
		close: async () => session.dispose(),
	};
}

/** The public API's metadata in the manifest's terms: symbolic dimensions become "N". */
export const publicGraphValues = (declared: readonly ort.InferenceSession.ValueMetadata[]) =>
	declared.map(
		(d): GraphValue =>
			d.isTensor
				? {
						name: d.name,
						isTensor: true,
						type: d.type,
						shape: d.shape.map((n) => (typeof n === "number" ? n : "N")),
					}
				: { name: d.name, isTensor: false, type: undefined, shape: [] },
	);

/**
 * The fallback, through the public API alone, so any onnxruntime-node release runs it. Its
 * `run()` has no synchronous form, hence the one async executor (executor.ts).
 */
async function createPublicExecutor(bytes: Uint8Array, entry: ModelEntry): Promise<AsyncExecutor> {
	const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
	const problem = graphProblem(
		publicGraphValues(session.inputMetadata),
		publicGraphValues(session.outputMetadata),
		entry,
	);
	if (problem) {
		await session.release();
		throw new Error(problem);
	}
	const { inputName, output, column, width } = probabilityOf(entry);
	const fetches = [output];
	return {
		backend: "onnxruntime",
		async: true,
		async predict(input, rows) {
			const feeds = { [inputName]: new ort.Tensor("float32", input, [rows, FEATURE_COUNT]) };
			const data = (await session.run(feeds, fetches))[output]?.data as Float32Array;
			return probabilityColumn(data, rows, width, column);
		},
		close: () => session.release(),
	};
}

/**
 * Runs an ONNX graph on the chosen backend, after checking its inputs and outputs against the
 * manifest. The session is created from the bytes whose sha256 was checked, so what runs is
 * exactly what the manifest names.
 */
export async function createOnnxExecutor(
	bytes: Uint8Array,
	entry: ModelEntry,
	backend: OrtBackend,
): Promise<Executor> {
	return backend.kind === "native"
		? createNativeExecutor(backend.ort, bytes, entry)
		: await createPublicExecutor(bytes, entry);
}
