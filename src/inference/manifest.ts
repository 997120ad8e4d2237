import { z } from "zod";

/**
 * models/manifest.json: the one description of the trained models. The trainer writes it, the
 * service reads it; loading, the /models metadata and preprocessing are all driven from here.
 */

export const MANIFEST_SCHEMA_VERSION = 1;

/** The order of the columns every model consumes. */
export const FEATURES = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare"] as const;
export type Feature = (typeof FEATURES)[number];

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a lowercase hex sha256");

const TensorSpec = z.object({
	name: z.string().min(1),
	type: z.enum(["float32", "int64"]),
	/** "N" is the dynamic batch dimension. */
	shape: z.array(z.union([z.literal("N"), z.number().int().positive()])),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

const Metrics = z.object({
	accuracy: z.number().min(0).max(1),
	rocAuc: z.number().min(0).max(1),
	logLoss: z.number().nonnegative(),
});

const ModelEntry = z.object({
	family: z.enum(["mlp", "gbdt"]),
	/** The ONNX graph, relative to the manifest's folder. */
	file: z.string().min(1),
	sha256: Sha256,
	/** The same parameters as plain JSON, read by the TypeScript executors. */
	params: z.object({ file: z.string().min(1), sha256: Sha256 }),
	/**
	 * Whether Age and Fare are standardised before this model sees them. Trees are trained on raw
	 * values and the net on scaled ones: mixing the two up is the reference benchmark's bug.
	 */
	scaling: z.enum(["standard", "none"]),
	inputs: z.array(TensorSpec).length(1),
	outputs: z.array(TensorSpec).min(1),
	/** Which output holds the survival probability, and which column of it (1 for [N,2]). */
	probability: z.object({ output: z.string().min(1), column: z.number().int().nonnegative() }),
	hyperparameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
	rows: z.object({ train: z.number().int().positive(), test: z.number().int().positive() }),
	metrics: z.object({
		holdout: Metrics,
		cv5: z.object({
			accuracyMean: z.number().min(0).max(1),
			accuracyStd: z.number().nonnegative(),
			folds: z.array(z.number().min(0).max(1)).length(5),
		}),
	}),
});
export type ModelEntry = z.infer<typeof ModelEntry>;

const Scaler = z.object({ mean: z.number(), std: z.number().positive() });

export const Preprocessing = z.object({
	sex: z.object({ female: z.literal(0), male: z.literal(1) }),
	/** Fills a missing Age; the median of the training split. */
	ageMedian: z.number().positive(),
	/** Standard scaler (population std) fitted on the training split after Age imputation. */
	scaler: z.object({ Age: Scaler, Fare: Scaler }),
});
export type Preprocessing = z.infer<typeof Preprocessing>;

export const Manifest = z.object({
	schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
	features: z
		.array(z.string())
		.refine((names) => names.join() === FEATURES.join(), `must be ${FEATURES.join(", ")}`),
	data: z.object({ file: z.string(), sha256: Sha256, rows: z.number().int().positive() }),
	split: z.object({
		testFraction: z.number().gt(0).lt(1),
		stratified: z.boolean(),
		seed: z.number().int(),
		trainRows: z.number().int().positive(),
		testRows: z.number().int().positive(),
		/** The passenger ids on each side of the split, so the constants can be recomputed. */
		ids: z.object({ file: z.string().min(1), sha256: Sha256 }),
	}),
	preprocessing: Preprocessing,
	models: z.object({ mlp: ModelEntry, gbdt: ModelEntry }),
});
export type Manifest = z.infer<typeof Manifest>;
