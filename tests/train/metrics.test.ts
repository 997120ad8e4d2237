import { describe, expect, test } from "bun:test";
import { accuracy, logLoss, meanAndStd, rocAuc } from "../../src/train/metrics.ts";
import { median } from "../../src/train/preprocessing.ts";

describe("metrics", () => {
	test("accuracy labels p >= 0.5 as survival", () => {
		expect(accuracy([1, 0, 1, 0], [0.5, 0.49, 0.2, 0.9])).toBe(0.5);
	});

	test("ROC AUC counts ordered pairs, ties as half", () => {
		expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
		expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
		expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
	});

	test("log loss is the mean binary cross-entropy", () => {
		expect(logLoss([1, 0], [0.8, 0.4])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 12);
		expect(Number.isFinite(logLoss([1], [0]))).toBe(true);
	});

	test("population std and median", () => {
		const { mean, std } = meanAndStd([2, 4, 4, 4, 5, 5, 7, 9]);
		expect(mean).toBe(5);
		expect(std).toBe(2);
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
	});
});
