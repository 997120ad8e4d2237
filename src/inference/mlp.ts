import { z } from "zod";
import type { SyncExecutor } from "./executor.ts";

/**
 * models/mlp.json: the weights of the net in mlp.onnx, as the exact float32 values stored there.
 * Architecture: Linear(inputSize -> hiddenSize) -> ReLU -> Linear(hiddenSize -> 1) -> Sigmoid.
 */
export const MlpParams = z
	.object({
		format: z.literal("mlp"),
		inputSize: z.number().int().positive(),
		hiddenSize: z.number().int().positive(),
		hiddenActivation: z.literal("relu"),
		outputActivation: z.literal("sigmoid"),
		/** Row-major [hiddenSize, inputSize]: hidden unit j reads hiddenWeights[j * inputSize + i]. */
		hiddenWeights: z.array(z.number()),
		hiddenBias: z.array(z.number()),
		/** [hiddenSize]: the single output unit's weight per hidden unit. */
		outputWeights: z.array(z.number()),
		outputBias: z.number(),
	})
	.refine((p) => p.hiddenWeights.length === p.hiddenSize * p.inputSize, {
		message: "hiddenWeights must hold hiddenSize * inputSize values",
		path: ["hiddenWeights"],
	})
	.refine((p) => p.hiddenBias.length === p.hiddenSize, {
		message: "hiddenBias must hold hiddenSize values",
		path: ["hiddenBias"],
	})
	.refine((p) => p.outputWeights.length === p.hiddenSize, {
		message: "outputWeights must hold hiddenSize values",
		path: ["outputWeights"],
	});
export type MlpParams = z.infer<typeof MlpParams>;

/**
 * The net's forward pass over a [rows, inputSize] batch. Weights live in typed arrays and the
 * hidden layer is accumulated one unit at a time, so a call allocates at most its output.
 */
export function createMlpExecutor(params: MlpParams): SyncExecutor {
	const { inputSize, hiddenSize, outputBias } = MlpParams.parse(params);
	const hiddenWeights = Float64Array.from(params.hiddenWeights);
	const hiddenBias = Float64Array.from(params.hiddenBias);
	const outputWeights = Float64Array.from(params.outputWeights);
	return {
		backend: "typescript",
		predict(input: Float32Array, rows: number, into?: Float32Array): Float32Array {
			if (input.length < rows * inputSize) {
				throw new RangeError(
					`expected ${rows * inputSize} inputs for ${rows} rows, got ${input.length}`,
				);
			}
			const out = into?.length === rows ? into : new Float32Array(rows);
			for (let row = 0; row < rows; row++) {
				const x = row * inputSize;
				let logit = outputBias;
				for (let j = 0; j < hiddenSize; j++) {
					const w = j * inputSize;
					let activation = hiddenBias[j];
					for (let i = 0; i < inputSize; i++) {
						activation += hiddenWeights[w + i] * input[x + i];
					}
					if (activation > 0) logit += activation * outputWeights[j];
				}
				out[row] = 1 / (1 + Math.exp(-logit));
			}
			return out;
		},
	};
}
