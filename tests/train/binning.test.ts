import { describe, expect, test } from "bun:test";
import { binOf, cutBetween, fitFeatureBins } from "../../src/train/binning.ts";

/** The next float32 above a float32 value (positive, finite). */
function nextFloat32(value: number): number {
	const bits = new Float32Array([value]);
	const asInt = new Uint32Array(bits.buffer);
	asInt[0] = (asInt[0] ?? 0) + 1;
	return bits[0] ?? Number.NaN;
}

describe("binning", () => {
	test("a cut is a float32 with low <= cut < high, even for neighbouring float32s", () => {
		for (const low of [0.42, 1, 7.25, 29.699, 512.3292].map(Math.fround)) {
			for (const high of [nextFloat32(low), Math.fround(low + 0.5), Math.fround(low * 3)]) {
				const cut = cutBetween(low, high);
				expect(Math.fround(cut)).toBe(cut);
				expect(low <= cut && cut < high).toBe(true);
			}
		}
	});

	test("every distinct value gets its own bin when they fit", () => {
		const values = Float32Array.from([3, 1, 2, 2, 3, 1, 1]);
		const bins = fitFeatureBins(values, 255);
		expect(bins.thresholds).toEqual([1.5, 2.5]);
		expect(Array.from(values, (v) => binOf(v, bins))).toEqual([2, 0, 1, 1, 2, 0, 0]);
	});

	test("many distinct values share at most maxBin bins, equal values never split", () => {
		const values = Float32Array.from({ length: 1000 }, (_, i) => Math.floor(i / 2));
		const bins = fitFeatureBins(values, 16);
		expect(bins.thresholds.length).toBeLessThanOrEqual(15);
		for (const threshold of bins.thresholds) expect(values.includes(threshold)).toBe(false);
		const counts = new Map<number, number>();
		for (const v of values) counts.set(binOf(v, bins), (counts.get(binOf(v, bins)) ?? 0) + 1);
		expect(Math.max(...counts.values())).toBeLessThanOrEqual(2 * (1000 / 16));
	});
});
