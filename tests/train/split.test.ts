import { describe, expect, test } from "bun:test";
import { stratifiedKFold, stratifiedSplit } from "../../src/train/split.ts";

// 200 rows, 30% positive, positives scattered through the order.
const labels = Array.from({ length: 200 }, (_, i) => ((i * 7) % 10 < 3 ? 1 : 0));
const positivesIn = (rows: number[]): number => rows.filter((r) => labels[r] === 1).length;

describe("stratifiedSplit", () => {
	test("holds out 30% of each label, and the two sides partition the rows", () => {
		const split = stratifiedSplit(labels, 0.3, 42);
		expect(split.test).toHaveLength(60);
		expect(split.train).toHaveLength(140);
		expect(positivesIn(split.test)).toBe(18);
		expect(positivesIn(split.train)).toBe(42);
		expect([...split.train, ...split.test].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
	});

	test("rounds each label's share, as on Kaggle's 549/342 rows", () => {
		const kaggle = [...Array(549).fill(0), ...Array(342).fill(1)];
		const split = stratifiedSplit(kaggle, 0.3, 42);
		expect(split.test.filter((r) => kaggle[r] === 1)).toHaveLength(103);
		expect(split.test).toHaveLength(268);
	});

	test("depends on the seed only", () => {
		expect(stratifiedSplit(labels, 0.3, 42)).toEqual(stratifiedSplit(labels, 0.3, 42));
		expect(stratifiedSplit(labels, 0.3, 43).test).not.toEqual(
			stratifiedSplit(labels, 0.3, 42).test,
		);
	});
});

describe("stratifiedKFold", () => {
	test("5 folds test every row once, each with about 1/5 of every label", () => {
		const folds = stratifiedKFold(labels, 5, 1);
		expect(folds).toHaveLength(5);
		const tested = folds.flatMap((f) => f.test).sort((a, b) => a - b);
		expect(tested).toEqual(labels.map((_, i) => i));
		for (const fold of folds) {
			expect(fold.test).toHaveLength(40);
			expect(positivesIn(fold.test)).toBe(12);
			expect(fold.train).toHaveLength(160);
			expect(fold.train.some((r) => fold.test.includes(r))).toBe(false);
		}
	});
});
