import type { Tensor, TensorSpec } from "./tensors.ts";

/**
 * A model seen as tensors in, tensors out: what the Open Inference Protocol serves. Any ONNX
 * graph in the models folder is one (onnx-graph.ts), and so is each Titanic variant.
 */
export interface TensorModel {
	readonly name: string;
	/** The protocol's platform name: "onnxruntime_onnx" (Triton's) for a graph onnxruntime runs. */
	readonly platform: string;
	readonly inputs: readonly TensorSpec[];
	readonly outputs: readonly TensorSpec[];
	/**
	 * Runs the model on one tensor per input, each already checked by decodeTensor against its
	 * spec, and answers the named outputs in that order. Throws TensorError for values the model
	 * cannot take, or onnxruntime's error when the graph refuses the combination.
	 */
	infer(inputs: readonly Tensor[], outputs: readonly string[]): Tensor[] | Promise<Tensor[]>;
	close?(): Promise<void>;
}

/** The version every served model has: one file is one version. */
export const MODEL_VERSION = "1";
