/**
 * What every model variant offers the service: survival probabilities for a [rows, 6] float32
 * batch that is already preprocessed for that model. Every executor answers synchronously
 * (onnxruntime's native session included, see onnx.ts): a graph that runs in microseconds gains
 * nothing from an async hop, and the request handler then awaits only the body.
 */
export interface Executor {
	readonly backend: "onnxruntime" | "typescript";
	predict(input: Float32Array, rows: number): Float32Array;
	close?(): Promise<void>;
}
