/**
 * What every model variant offers the service: survival probabilities for a [rows, 6] float32
 * batch that is already preprocessed for that model. The TypeScript executors answer
 * synchronously; onnxruntime answers with a promise.
 */
export interface Executor {
	readonly backend: "onnxruntime" | "typescript";
	predict(input: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
	close?(): Promise<void>;
}
