import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Manifest } from "../../src/inference/manifest.ts";
import { createMlpExecutor, MlpParams } from "../../src/inference/mlp.ts";
import { SESSION_OPTIONS } from "../../src/inference/onnx.ts";
import { createRowEncoder, encodeRows } from "../../src/inference/preprocess.ts";
import { createTreeEnsembleExecutor, TreeEnsembleParams } from "../../src/inference/trees.ts";
import { readTitanicCsv } from "../../src/train/csv.ts";
import { DEFAULT_GBDT_OPTIONS, trainGbdt } from "../../src/train/gbdt-trainer.ts";
import { DEFAULT_MLP_OPTIONS, trainMlp } from "../../src/train/mlp-trainer.ts";
import { gbdtToOnnx, mlpToOnnx } from "../../src/train/onnx-export.ts";
import {
	explainSkip,
	FULL_DATA,
	HAS_FULL_DATA,
	HAS_MODELS,
	MODELS_DIR,
	removeTempDirs,
	smallTitanicCsv,
	writeTempCsv,
} from "../train/fixtures.ts";

afterAll(removeTempDirs);

const TOLERANCE = 1e-5;
const ready = HAS_FULL_DATA && HAS_MODELS;
explainSkip("the 891-row onnxruntime/TypeScript agreement tests");

const readJson = (file: string): unknown =>
	JSON.parse(readFileSync(join(MODELS_DIR, file), "utf8"));

function tensorOf(x: Float32Array, rows: number): ort.Tensor {
	return new ort.Tensor("float32", x, [rows, x.length / rows]);
}

/**
 * Survival probabilities from an ONNX model, and its labels when it has a label output. The
 * session gets the service's options: the library's default thread count depends on the machine,
 * and with it the order in which the trees are summed.
 */
async function runOnnx(
	model: string | Uint8Array,
	x: Float32Array,
	rows: number,
): Promise<{ probabilities: Float32Array; labels?: BigInt64Array }> {
	const session =
		typeof model === "string"
			? await ort.InferenceSession.create(model, SESSION_OPTIONS)
			: await ort.InferenceSession.create(model, SESSION_OPTIONS);
	try {
		const out = await session.run({ x: tensorOf(x, rows) });
		if (out.probability) return { probabilities: out.probability.data as Float32Array };
		const both = out.probabilities?.data as Float32Array;
		// [N, 2]: column 0 must be exactly the complement of column 1.
		for (let r = 0; r < rows; r++) {
			expect(Math.abs((both[2 * r] ?? 0) + (both[2 * r + 1] ?? 0) - 1)).toBeLessThan(1e-6);
		}
		return {
			probabilities: both.filter((_, i) => i % 2 === 1),
			labels: out.label?.data as BigInt64Array,
		};
	} finally {
		await session.release();
	}
}

/** float32 and float64 sums may round a probability this close to 0.5 to either label. */
const decided = (p: number) => Math.abs(p - 0.5) > TOLERANCE;

function expectAgreement(onnx: Float32Array, typescript: Float32Array, rows: number): void {
	expect(onnx).toHaveLength(rows);
	expect(typescript).toHaveLength(rows);
	let worst = 0;
	let labelMismatches = 0;
	for (let r = 0; r < rows; r++) {
		const a = onnx[r] ?? Number.NaN;
		const b = typescript[r] ?? Number.NaN;
		worst = Math.max(worst, Number.isNaN(a - b) ? Number.POSITIVE_INFINITY : Math.abs(a - b));
		if (decided(b) && a >= 0.5 !== b >= 0.5) labelMismatches++;
	}
	expect(worst).toBeLessThanOrEqual(TOLERANCE);
	expect(labelMismatches).toBe(0);
}

/** onnxruntime's own label output agrees with p >= 0.5 wherever p is not at 0.5 within tolerance. */
function expectLabels(labels: BigInt64Array | undefined, typescript: Float32Array): void {
	const rows = Array.from(typescript.keys()).filter((r) => decided(typescript[r] ?? 0));
	expect(labels).toHaveLength(typescript.length);
	expect(rows.map((r) => Number(labels?.[r]))).toEqual(
		rows.map((r) => ((typescript[r] ?? 0) >= 0.5 ? 1 : 0)),
	);
}

const sync = (result: Float32Array | Promise<Float32Array>): Float32Array => {
	if (result instanceof Promise) throw new Error("TypeScript executors answer synchronously");
	return result;
};

describe("onnxruntime and the TypeScript executors on all 891 rows of train.csv", () => {
	for (const family of ["mlp", "gbdt"] as const) {
		test.skipIf(!ready)(
			`${family}: every probability within 1e-5, every label equal away from 0.5`,
			async () => {
				const manifest = Manifest.parse(readJson("manifest.json"));
				const entry = manifest.models[family];
				const passengers = readTitanicCsv(FULL_DATA);
				expect(passengers).toHaveLength(891);
				const x = encodeRows(createRowEncoder(manifest.preprocessing, entry.scaling), passengers);
				const params = readJson(entry.params.file);
				const executor =
					family === "mlp"
						? createMlpExecutor(MlpParams.parse(params))
						: createTreeEnsembleExecutor(TreeEnsembleParams.parse(params));
				const typescript = sync(executor.predict(x, 891));
				const onnx = await runOnnx(join(MODELS_DIR, entry.file), x, 891);
				expectAgreement(onnx.probabilities, typescript, 891);
				if (onnx.labels) expectLabels(onnx.labels, typescript);
				// Not a constant model: both classes are predicted.
				expect(new Set(Array.from(typescript, (p) => p >= 0.5)).size).toBe(2);
			},
		);
	}
});

describe("PassengerId 1 (3rd class, male, 22, 1 sibling/spouse, no parents/children, fare 7.25)", () => {
	const raw = { Pclass: 3, male: 1, Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };

	/** The net computed straight from mlp.json's arrays. */
	function referenceMlp(p: MlpParams, input: number[]): number {
		let logit = p.outputBias;
		for (let j = 0; j < p.hiddenSize; j++) {
			let sum = p.hiddenBias[j] ?? 0;
			for (let i = 0; i < p.inputSize; i++)
				sum += (p.hiddenWeights[j * p.inputSize + i] ?? 0) * (input[i] ?? 0);
			logit += Math.max(0, sum) * (p.outputWeights[j] ?? 0);
		}
		return 1 / (1 + Math.exp(-logit));
	}

	/** The trees walked straight from gbdt.json's node arrays. */
	function referenceTrees(p: TreeEnsembleParams, input: number[]): number {
		let score = p.baseScore;
		for (const tree of p.trees) {
			let node = 0;
			while (tree.left[node] !== -1) {
				const value = Math.fround(input[tree.feature[node] ?? 0] ?? 0);
				node = (value <= (tree.threshold[node] ?? 0) ? tree.left[node] : tree.right[node]) ?? 0;
			}
			score += tree.value[node] ?? 0;
		}
		return 1 / (1 + Math.exp(-score));
	}

	test.skipIf(!HAS_MODELS)(
		"all four variants match a reference computed from the raw parameters",
		async () => {
			const manifest = Manifest.parse(readJson("manifest.json"));
			const { Age, Fare } = manifest.preprocessing.scaler;
			const scaled = [
				raw.Pclass,
				raw.male,
				(raw.Age - Age.mean) / Age.std,
				raw.SibSp,
				raw.Parch,
				(raw.Fare - Fare.mean) / Fare.std,
			];
			const unscaled = [raw.Pclass, raw.male, raw.Age, raw.SibSp, raw.Parch, raw.Fare];
			const mlpParams = MlpParams.parse(readJson(manifest.models.mlp.params.file));
			const gbdtParams = TreeEnsembleParams.parse(readJson(manifest.models.gbdt.params.file));
			const expectedMlp = referenceMlp(mlpParams, scaled.map(Math.fround));
			const expectedGbdt = referenceTrees(gbdtParams, unscaled);

			const mlpInput = Float32Array.from(scaled);
			const gbdtInput = Float32Array.from(unscaled);
			const variants = {
				"mlp via onnxruntime": (
					await runOnnx(join(MODELS_DIR, manifest.models.mlp.file), mlpInput, 1)
				).probabilities[0],
				"mlp via TypeScript": sync(createMlpExecutor(mlpParams).predict(mlpInput, 1))[0],
				"gbdt via onnxruntime": (
					await runOnnx(join(MODELS_DIR, manifest.models.gbdt.file), gbdtInput, 1)
				).probabilities[0],
				"gbdt via TypeScript": sync(
					createTreeEnsembleExecutor(gbdtParams).predict(gbdtInput, 1),
				)[0],
			};
			const expected = { mlp: expectedMlp, gbdt: expectedGbdt };
			for (const [variant, probability] of Object.entries(variants)) {
				const reference = variant.startsWith("mlp") ? expected.mlp : expected.gbdt;
				expect({
					variant,
					close: Math.abs((probability ?? Number.NaN) - reference) <= TOLERANCE,
				}).toEqual({ variant, close: true });
			}
			// Mr Braund did not survive; both models should say so.
			expect(expectedMlp).toBeLessThan(0.5);
			expect(expectedGbdt).toBeLessThan(0.5);
		},
	);
});

describe("exported ONNX agrees with the TypeScript executors without the Kaggle data", () => {
	// Trained here on the small generated CSV, so this runs wherever the tests run.
	const { file } = writeTempCsv(smallTitanicCsv(150));
	const passengers = readTitanicCsv(file);
	const labels = passengers.map((p) => p.survived);
	const pre = {
		sex: { female: 0, male: 1 } as const,
		ageMedian: 30,
		scaler: { Age: { mean: 30, std: 15 }, Fare: { mean: 25, std: 20 } },
	};

	test("mlp", async () => {
		const x = encodeRows(createRowEncoder(pre, "standard"), passengers);
		const { params } = trainMlp(x, labels, 6, { ...DEFAULT_MLP_OPTIONS, maxEpochs: 40 });
		const onnx = await runOnnx(mlpToOnnx(params), x, passengers.length);
		expectAgreement(
			onnx.probabilities,
			sync(createMlpExecutor(params).predict(x, passengers.length)),
			passengers.length,
		);
	});

	test("gbdt, including rows that sit exactly on a threshold", async () => {
		const x = encodeRows(createRowEncoder(pre, "none"), passengers);
		const params = trainGbdt(x, labels, 6, { ...DEFAULT_GBDT_OPTIONS, rounds: 20 });
		// Append one row per split node whose feature value is the threshold itself (BRANCH_LEQ: left).
		const onThresholds: number[] = [];
		for (const tree of params.trees) {
			tree.feature.forEach((feature, node) => {
				if (tree.left[node] === -1) return;
				const row = Array.from(x.subarray(0, 6));
				row[feature] = tree.threshold[node] ?? 0;
				onThresholds.push(...row);
			});
		}
		const all = Float32Array.from([...x, ...onThresholds]);
		const rows = all.length / 6;
		const onnx = await runOnnx(gbdtToOnnx(params), all, rows);
		const typescript = sync(createTreeEnsembleExecutor(params).predict(all, rows));
		expectAgreement(onnx.probabilities, typescript, rows);
		expectLabels(onnx.labels, typescript);
	});
});

describe("parameter schemas and executors", () => {
	const mlp: MlpParams = {
		format: "mlp",
		inputSize: 2,
		hiddenSize: 2,
		hiddenActivation: "relu",
		outputActivation: "sigmoid",
		hiddenWeights: [1, 0, 0, -1],
		hiddenBias: [0, 0.5],
		outputWeights: [2, -1],
		outputBias: -0.25,
	};
	const trees: TreeEnsembleParams = {
		format: "tree-ensemble",
		featureCount: 2,
		comparison: "BRANCH_LEQ",
		postTransform: "logistic",
		baseScore: 0.5,
		trees: [
			{
				feature: [1, -1, -1],
				threshold: [2.5, 0, 0],
				left: [1, -1, -1],
				right: [2, -1, -1],
				value: [0, -1, 1],
			},
			{ feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0.25] },
		],
	};
	const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

	test("the MLP computes its hand-checked forward pass", () => {
		// Row (3, 1): hidden = relu(3, 0.5 - 1) = (3, 0); logit = 6 - 0.25.
		const out = sync(createMlpExecutor(mlp).predict(Float32Array.from([3, 1, -1, 0]), 2));
		expect(out[0]).toBeCloseTo(sigmoid(5.75), 6);
		// Row (-1, 0): hidden = (0, 0.5); logit = -0.5 - 0.25.
		expect(out[1]).toBeCloseTo(sigmoid(-0.75), 6);
	});

	test("the tree walk sends x <= threshold left, equality included", () => {
		const out = sync(
			createTreeEnsembleExecutor(trees).predict(Float32Array.from([0, 2.5, 0, 2.6, 0, 1]), 3),
		);
		expect(out[0]).toBeCloseTo(sigmoid(0.5 - 1 + 0.25), 6);
		expect(out[1]).toBeCloseTo(sigmoid(0.5 + 1 + 0.25), 6);
		expect(out[2]).toBeCloseTo(sigmoid(0.5 - 1 + 0.25), 6);
		expect(sync(createTreeEnsembleExecutor(trees).predict(new Float32Array(0), 0))).toHaveLength(0);
	});

	test("answer in the memory they are given when it is the rows' size, else in a new array", () => {
		const input = Float32Array.from([3, 1, -1, 0]);
		for (const executor of [createMlpExecutor(mlp), createTreeEnsembleExecutor(trees)]) {
			const fresh = sync(executor.predict(input, 2));
			const into = new Float32Array(2).fill(-1);
			const answer = sync(executor.predict(input, 2, into));
			expect(answer).toBe(into);
			expect(Array.from(answer)).toEqual(Array.from(fresh));
			for (const size of [1, 3]) {
				const other = new Float32Array(size).fill(-1);
				const elsewhere = sync(executor.predict(input, 2, other));
				expect(elsewhere).not.toBe(other);
				expect(Array.from(elsewhere)).toEqual(Array.from(fresh));
				expect(Array.from(other)).toEqual(new Array(size).fill(-1));
			}
		}
	});

	test("malformed parameters are rejected", () => {
		expect(MlpParams.safeParse({ ...mlp, hiddenBias: [0] }).success).toBe(false);
		expect(MlpParams.safeParse({ ...mlp, hiddenWeights: [1, 2, 3] }).success).toBe(false);
		const cyclic = { ...trees.trees[0], left: [0, -1, -1] };
		expect(TreeEnsembleParams.safeParse({ ...trees, trees: [cyclic] }).success).toBe(false);
		const ragged = { ...trees.trees[0], value: [0, 1] };
		expect(TreeEnsembleParams.safeParse({ ...trees, trees: [ragged] }).success).toBe(false);
		expect(() => createTreeEnsembleExecutor({ ...trees, featureCount: 1 })).toThrow(RangeError);
		expect(() => createMlpExecutor(mlp).predict(new Float32Array(3), 2)).toThrow(RangeError);
	});
});
