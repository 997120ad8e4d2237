import { readFileSync } from "node:fs";
import type { Executor } from "../inference/executor.ts";
import {
	FEATURES,
	MANIFEST_SCHEMA_VERSION,
	type Manifest,
	type ModelEntry,
	type Preprocessing,
} from "../inference/manifest.ts";
import { createMlpExecutor } from "../inference/mlp.ts";
import { createRowEncoder, encodeRows } from "../inference/preprocess.ts";
import { createTreeEnsembleExecutor } from "../inference/trees.ts";
import { type LabelledPassenger, readTitanicCsv } from "./csv.ts";
import { DEFAULT_GBDT_OPTIONS, type GbdtOptions, trainGbdt } from "./gbdt-trainer.ts";
import { sha256Hex } from "./hash.ts";
import { binaryMetrics, meanAndStd } from "./metrics.ts";
import { DEFAULT_MLP_OPTIONS, type MlpOptions, trainMlp } from "./mlp-trainer.ts";
import {
	BATCH_DIM,
	GBDT_INPUT,
	GBDT_LABEL,
	GBDT_PROBABILITIES,
	gbdtToOnnx,
	MLP_INPUT,
	MLP_OUTPUT,
	mlpToOnnx,
} from "./onnx-export.ts";
import { fitPreprocessing } from "./preprocessing.ts";
import { stratifiedKFold, stratifiedSplit } from "./split.ts";

export const TEST_FRACTION = 0.3;
export const SPLIT_SEED = 42;
export const CV_FOLDS = 5;
export const CV_SEED = 43;
const FEATURE_COUNT = FEATURES.length;

export interface TrainingConfig {
	mlp: MlpOptions;
	gbdt: GbdtOptions;
}

export const DEFAULT_TRAINING_CONFIG: TrainingConfig = {
	mlp: DEFAULT_MLP_OPTIONS,
	gbdt: DEFAULT_GBDT_OPTIONS,
};

/** Everything `models/` will hold, by file name, plus the manifest describing it. */
export interface TrainingOutput {
	manifest: Manifest;
	files: Map<string, Uint8Array>;
}

/** A trained model as the pipeline needs it: something to score rows and what to write. */
interface FittedModel {
	executor: Executor;
	onnx: Uint8Array;
	params: unknown;
	details: Record<string, number>;
}

type Family = ModelEntry["family"];
const SCALING: Record<Family, ModelEntry["scaling"]> = { mlp: "standard", gbdt: "none" };

function fitModel(
	family: Family,
	x: Float32Array,
	labels: number[],
	config: TrainingConfig,
): FittedModel {
	if (family === "mlp") {
		const result = trainMlp(x, labels, FEATURE_COUNT, config.mlp);
		return {
			executor: createMlpExecutor(result.params),
			onnx: mlpToOnnx(result.params),
			params: result.params,
			details: {
				bestEpoch: result.bestEpoch,
				epochsRun: result.validationLoss.length,
				earlyStoppingRows: result.rows.validation,
			},
		};
	}
	const params = trainGbdt(x, labels, FEATURE_COUNT, config.gbdt);
	return {
		executor: createTreeEnsembleExecutor(params),
		onnx: gbdtToOnnx(params),
		params,
		details: {},
	};
}

function encode(passengers: readonly LabelledPassenger[], pre: Preprocessing, family: Family) {
	return encodeRows(createRowEncoder(pre, SCALING[family]), passengers);
}

/** The TypeScript executors are synchronous; the pipeline scores with exactly what it exports. */
function score(executor: Executor, x: Float32Array, rows: number): Float32Array {
	const result = executor.predict(x, rows);
	if (result instanceof Promise) throw new Error("expected a synchronous executor");
	return result;
}

const pick = <T>(items: readonly T[], indices: readonly number[]): T[] =>
	indices.map((i) => items[i] as T);

/**
 * Cross-validated accuracy on the TRAINING split only (the held-out test rows never take part),
 * refitting the preprocessing constants inside every fold so no fold sees its test rows' stats.
 */
function crossValidate(
	family: Family,
	passengers: readonly LabelledPassenger[],
	config: TrainingConfig,
): ModelEntry["metrics"]["cv5"] {
	const labels = passengers.map((p) => p.survived);
	const folds = stratifiedKFold(labels, CV_FOLDS, CV_SEED).map((fold) => {
		const fitRows = pick(passengers, fold.train);
		const testRows = pick(passengers, fold.test);
		const pre = fitPreprocessing(fitRows);
		const model = fitModel(family, encode(fitRows, pre, family), pick(labels, fold.train), config);
		const probabilities = score(model.executor, encode(testRows, pre, family), testRows.length);
		return binaryMetrics(pick(labels, fold.test), probabilities).accuracy;
	});
	const { mean, std } = meanAndStd(folds);
	return { accuracyMean: mean, accuracyStd: std, folds };
}

/** The manifest is for people to read; parameter and split files are data, kept compact. */
const prettyJson = (value: unknown): Uint8Array =>
	new TextEncoder().encode(`${JSON.stringify(value, null, "\t")}\n`);
const SPLIT_FILE = "split.json";

const compactJson = (value: unknown): Uint8Array =>
	new TextEncoder().encode(`${JSON.stringify(value)}\n`);

/** Hyper-parameters as the manifest records them: numbers, strings and booleans only. */
function hyperparameters(family: Family, config: TrainingConfig): Record<string, number | string> {
	if (family === "mlp") {
		return {
			architecture: `Linear(${FEATURE_COUNT}->${config.mlp.hiddenSize})-ReLU-Linear(${config.mlp.hiddenSize}->1)-Sigmoid`,
			optimizer: "adam",
			loss: "binary-cross-entropy",
			...config.mlp,
		};
	}
	return { objective: "binary-logloss", growth: "leaf-wise", ...config.gbdt };
}

/**
 * Reads the data, splits it, fits preprocessing on the training split, trains both models, and
 * describes the lot. Pure apart from reading `dataFile`: nothing is written here.
 */
export function trainModels(
	dataFile: string,
	dataLabel: string,
	config: TrainingConfig = DEFAULT_TRAINING_CONFIG,
): TrainingOutput {
	const passengers = readTitanicCsv(dataFile);
	const dataSha256 = sha256Hex(readFileSync(dataFile));
	const labels = passengers.map((p) => p.survived);
	const split = stratifiedSplit(labels, TEST_FRACTION, SPLIT_SEED);
	const trainPassengers = pick(passengers, split.train);
	const testPassengers = pick(passengers, split.test);
	const trainLabels = pick(labels, split.train);
	const testLabels = pick(labels, split.test);
	const preprocessing = fitPreprocessing(trainPassengers);

	const files = new Map<string, Uint8Array>();
	const entry = (family: Family): ModelEntry => {
		const model = fitModel(
			family,
			encode(trainPassengers, preprocessing, family),
			trainLabels,
			config,
		);
		const probabilities = score(
			model.executor,
			encode(testPassengers, preprocessing, family),
			testPassengers.length,
		);
		const paramsBytes = compactJson(model.params);
		files.set(`${family}.onnx`, model.onnx);
		files.set(`${family}.json`, paramsBytes);
		const isMlp = family === "mlp";
		return {
			family,
			file: `${family}.onnx`,
			sha256: sha256Hex(model.onnx),
			params: { file: `${family}.json`, sha256: sha256Hex(paramsBytes) },
			scaling: SCALING[family],
			inputs: [
				{
					name: isMlp ? MLP_INPUT : GBDT_INPUT,
					type: "float32",
					shape: [BATCH_DIM, FEATURE_COUNT],
				},
			],
			outputs: isMlp
				? [{ name: MLP_OUTPUT, type: "float32", shape: [BATCH_DIM, 1] }]
				: [
						{ name: GBDT_LABEL, type: "int64", shape: [BATCH_DIM] },
						{ name: GBDT_PROBABILITIES, type: "float32", shape: [BATCH_DIM, 2] },
					],
			probability: isMlp
				? { output: MLP_OUTPUT, column: 0 }
				: { output: GBDT_PROBABILITIES, column: 1 },
			hyperparameters: { ...hyperparameters(family, config), ...model.details },
			rows: { train: trainPassengers.length, test: testPassengers.length },
			metrics: {
				holdout: binaryMetrics(testLabels, probabilities),
				cv5: crossValidate(family, trainPassengers, config),
			},
		};
	};
	const models = { mlp: entry("mlp"), gbdt: entry("gbdt") };

	// The exact rows of each side of the split, so anyone can recompute the fitted constants.
	const splitIds = compactJson({
		seed: SPLIT_SEED,
		testFraction: TEST_FRACTION,
		trainPassengerIds: trainPassengers.map((p) => p.passengerId),
		testPassengerIds: testPassengers.map((p) => p.passengerId),
	});
	files.set(SPLIT_FILE, splitIds);
	const manifest: Manifest = {
		schemaVersion: MANIFEST_SCHEMA_VERSION,
		features: [...FEATURES],
		data: { file: dataLabel, sha256: dataSha256, rows: passengers.length },
		split: {
			testFraction: TEST_FRACTION,
			stratified: true,
			seed: SPLIT_SEED,
			trainRows: split.train.length,
			testRows: split.test.length,
			ids: { file: SPLIT_FILE, sha256: sha256Hex(splitIds) },
		},
		preprocessing,
		models,
	};
	files.set("manifest.json", prettyJson(manifest));
	return { manifest, files };
}
