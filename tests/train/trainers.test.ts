import { describe, expect, test } from "bun:test";
import { createMlpExecutor } from "../../src/inference/mlp.ts";
import { createTreeEnsembleExecutor } from "../../src/inference/trees.ts";
import { DEFAULT_GBDT_OPTIONS, trainGbdt } from "../../src/train/gbdt-trainer.ts";
import { accuracy } from "../../src/train/metrics.ts";
import { DEFAULT_MLP_OPTIONS, trainMlp } from "../../src/train/mlp-trainer.ts";

/** 300 rows of 3 features; survival is exactly "feature 1 > 0.6". */
function separable(): { x: Float32Array; labels: number[] } {
	let state = 99;
	const next = (): number => {
		state = (state * 1103515245 + 12345) % 2147483648;
		return state / 2147483648;
	};
	const rows = 300;
	const x = new Float32Array(rows * 3);
	const labels: number[] = [];
	for (let r = 0; r < rows; r++) {
		for (let f = 0; f < 3; f++) x[r * 3 + f] = Math.round(next() * 1000) / 1000;
		labels.push((x[r * 3 + 1] ?? 0) > 0.6 ? 1 : 0);
	}
	return { x, labels };
}

describe("trainGbdt", () => {
	const { x, labels } = separable();
	const params = trainGbdt(x, labels, 3, { ...DEFAULT_GBDT_OPTIONS, rounds: 30 });

	test("learns a separable rule from the right feature", () => {
		const probabilities = createTreeEnsembleExecutor(params).predict(x, labels.length);
		expect(accuracy(labels, probabilities as Float32Array)).toBe(1);
		expect(params.trees[0]?.feature[0]).toBe(1);
		const firstThreshold = params.trees[0]?.threshold[0] ?? 0;
		expect(firstThreshold).toBeGreaterThan(0.59);
		expect(firstThreshold).toBeLessThan(0.61);
	});

	test("starts from the prior log-odds and respects the leaf limits", () => {
		const prior = labels.reduce((a, b) => a + b, 0) / labels.length;
		expect(params.baseScore).toBe(Math.fround(Math.log(prior / (1 - prior))));
		expect(params.trees).toHaveLength(30);
		for (const tree of params.trees) {
			expect(tree.left.filter((l) => l === -1).length).toBeLessThanOrEqual(
				DEFAULT_GBDT_OPTIONS.numLeaves,
			);
			for (const v of [...tree.threshold, ...tree.value]) expect(Math.fround(v)).toBe(v);
		}
	});

	test("no threshold equals a training value of its feature", () => {
		const values = [0, 1, 2].map((f) => new Set(x.filter((_, i) => i % 3 === f)));
		for (const tree of params.trees) {
			tree.threshold.forEach((t, node) => {
				if (tree.left[node] !== -1) expect(values[tree.feature[node] ?? 0]?.has(t)).toBe(false);
			});
		}
	});
});

describe("trainMlp", () => {
	const { x, labels } = separable();
	const result = trainMlp(x, labels, 3, { ...DEFAULT_MLP_OPTIONS, maxEpochs: 60, patience: 60 });

	test("the training loss decreases", () => {
		const first = result.trainLoss[0] ?? 0;
		const last = result.trainLoss.at(-1) ?? Number.POSITIVE_INFINITY;
		expect(last).toBeLessThan(first * 0.5);
		expect(Math.min(...result.validationLoss)).toBeLessThan(result.validationLoss[0] ?? 0);
	});

	test("keeps the best validation epoch's weights, rounded to float32", () => {
		const best = result.validationLoss[result.bestEpoch - 1] ?? 0;
		expect(best).toBe(Math.min(...result.validationLoss));
		expect(result.rows.validation).toBe(60);
		for (const w of result.params.hiddenWeights) expect(Math.fround(w)).toBe(w);
		const probabilities = createMlpExecutor(result.params).predict(x, labels.length);
		expect(accuracy(labels, probabilities as Float32Array)).toBeGreaterThan(0.9);
	});

	test("is deterministic for a seed", () => {
		const again = trainMlp(x, labels, 3, { ...DEFAULT_MLP_OPTIONS, maxEpochs: 60, patience: 60 });
		expect(again.params).toEqual(result.params);
	});
});
