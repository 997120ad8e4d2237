import { z } from "zod";

/**
 * What the service says about each model variant it serves: the ids, and the description built
 * from the manifest at load time. The HTTP layer documents these schemas as they are.
 */

/** Each family through onnxruntime and through its TypeScript executor. */
export const MODEL_IDS = ["mlp-onnx", "mlp-ts", "gbdt-onnx", "gbdt-ts"] as const;
export const ModelId = z.enum(MODEL_IDS);
export type ModelId = z.infer<typeof ModelId>;

const Metrics = z.object({ accuracy: z.number(), rocAuc: z.number(), logLoss: z.number() });

export const ModelInfo = z.object({
	id: ModelId,
	family: z.enum(["mlp", "gbdt"]),
	backend: z.enum(["onnxruntime", "typescript"]),
	file: z.string(),
	sha256: z.string(),
	input: z.object({
		fields: z
			.record(z.string(), z.unknown())
			.describe("JSON Schema of each passenger field, with its range"),
		features: z.array(z.string()),
		scaling: z.enum(["standard", "none"]),
	}),
	preprocessing: z.object({
		sex: z.object({ female: z.number(), male: z.number() }),
		ageMedian: z.number(),
		scaler: z.object({
			Age: z.object({ mean: z.number(), std: z.number() }),
			Fare: z.object({ mean: z.number(), std: z.number() }),
		}),
	}),
	hyperparameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
	metrics: z.object({
		holdout: Metrics,
		cv5: z.object({ accuracyMean: z.number(), accuracyStd: z.number() }),
	}),
});
export type ModelInfo = z.infer<typeof ModelInfo>;
