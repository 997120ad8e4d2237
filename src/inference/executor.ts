/**
 * What every model variant offers the service: survival probabilities for a [rows, 6] float32
 * batch that is already preprocessed for that model.
 *
 * The TypeScript executors and onnxruntime's native session (onnx.ts) answer synchronously: a
 * graph that runs in microseconds gains nothing from an async hop, and the request handler then
 * awaits only the body. Only onnxruntime's fallback, the public `InferenceSession` used when the
 * installed onnxruntime-node is not the tested one (ort-native.ts), answers with a Promise, and
 * says so with `async: true`, so callers await only there.
 */
export type Executor = SyncExecutor | AsyncExecutor;

interface ExecutorBase {
	readonly backend: "onnxruntime" | "typescript";
	close?(): Promise<void>;
}

export interface SyncExecutor extends ExecutorBase {
	readonly async?: false;
	/**
	 * `into`, when given, is memory of exactly `rows` values the executor may answer in (the
	 * TypeScript executors do; onnxruntime's binding allocates its own): read the answer before the
	 * next call that is given the same memory.
	 */
	predict(input: Float32Array, rows: number, into?: Float32Array): Float32Array;
}

export interface AsyncExecutor extends ExecutorBase {
	readonly async: true;
	predict(input: Float32Array, rows: number): Promise<Float32Array>;
}
