import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseOhaCsv } from "../../bench/loadgen/oha.ts";
import type { Sample } from "../../bench/loadgen/types.ts";
import { computeStats, median, non2xx, percentile, wallUsOf } from "../../bench/stats.ts";
import { hasOhaFixtures, OHA_FIXTURES } from "./helpers.ts";

const samplesOf = (ms: number[], status = 200): Sample[] =>
	ms.map((d, i) => ({ startUs: i * 10_000, durationUs: d * 1000, status, inferMs: null }));

describe("computeStats on hand-checked vectors", () => {
	test("1, 2, 3, 4 ms", () => {
		const s = computeStats(samplesOf([4, 1, 3, 2]), 0, 20_000);
		expect(s.count).toBe(4);
		expect(s.avgMs).toBe(2.5);
		expect(s.minMs).toBe(1);
		expect(s.maxMs).toBe(4);
		expect(s.totalMs).toBe(10);
		// Population variance: ((1.5² + 0.5²) * 2) / 4.
		expect(s.varianceMs2).toBe(1.25);
		// oha's rank: sorted[floor(p * n)] -> p50 = sorted[2] = 3, p90 = sorted[3] = 4.
		expect(s.p50Ms).toBe(3);
		expect(s.p90Ms).toBe(4);
		expect(s.p99Ms).toBe(4);
		expect(s.wallMs).toBe(20);
		expect(s.rps).toBe(200);
		expect(s.statusCodes).toEqual({ "200": 4 });
	});

	test("1..10 ms and ranks at whole and fractional p*n", () => {
		const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
		expect(percentile(sorted, 50)).toBe(6);
		expect(percentile(sorted, 10)).toBe(2);
		expect(percentile(sorted, 25)).toBe(3);
		expect(percentile(sorted, 99)).toBe(10);
		expect(percentile(sorted, 99.9)).toBe(10);
		const s = computeStats(samplesOf(sorted), 0, 100_000);
		expect(s.avgMs).toBe(5.5);
		expect(s.varianceMs2).toBeCloseTo(8.25, 12);
	});

	test("one sample has zero variance; none gives nulls, not zeros", () => {
		const one = computeStats(samplesOf([0.25]), 0, 250);
		expect(one).toMatchObject({
			avgMs: 0.25,
			minMs: 0.25,
			maxMs: 0.25,
			varianceMs2: 0,
			p50Ms: 0.25,
		});
		const none = computeStats([], 7, 0);
		expect(none).toMatchObject({
			count: 0,
			errors: 7,
			avgMs: null,
			p50Ms: null,
			varianceMs2: null,
			rps: 0,
		});
	});

	test("variance stays exact with a large common offset", () => {
		const s = computeStats(samplesOf([1e6 + 1, 1e6 + 2, 1e6 + 3, 1e6 + 4]), 0, 1);
		expect(s.varianceMs2).toBeCloseTo(1.25, 6);
	});

	test("status codes are counted apart, errors are passed through", () => {
		const s = computeStats([...samplesOf([1, 1]), ...samplesOf([2], 503)], 2, 10_000);
		expect(s.statusCodes).toEqual({ "200": 2, "503": 1 });
		expect(s.count).toBe(3);
		expect(s.errors).toBe(2);
	});

	test("median and wall time", () => {
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
		expect(median([])).toBeNull();
		expect(wallUsOf(samplesOf([1, 5]))).toBe(15_000);
	});

	test("non-2xx status codes", () => {
		expect(non2xx({ "200": 5, "204": 1, "404": 2, "503": 3 })).toEqual([
			["404", 2],
			["503", 3],
		]);
		expect(non2xx({ "200": 5 })).toEqual([]);
	});
});

describe.skipIf(!hasOhaFixtures)("computeStats against oha's own summary (fixtures)", () => {
	test("synthetic run: same average, extremes and percentiles as oha's JSON", () => {
		const samples = parseOhaCsv(readFileSync(join(OHA_FIXTURES, "synthetic-output.csv"), "utf8"));
		const oha = JSON.parse(readFileSync(join(OHA_FIXTURES, "synthetic-output.json"), "utf8")) as {
			summary: { average: number; fastest: number; slowest: number; total: number };
			latencyPercentiles: Record<string, number>;
		};
		const s = computeStats(samples, 0, wallUsOf(samples));
		expect(s.count).toBe(1000);
		expect(s.avgMs).toBeCloseTo(oha.summary.average * 1000, 9);
		expect(s.minMs).toBeCloseTo(oha.summary.fastest * 1000, 9);
		expect(s.maxMs).toBeCloseTo(oha.summary.slowest * 1000, 9);
		expect(s.p50Ms).toBeCloseTo((oha.latencyPercentiles.p50 as number) * 1000, 9);
		expect(s.p90Ms).toBeCloseTo((oha.latencyPercentiles.p90 as number) * 1000, 9);
		expect(s.p99Ms).toBeCloseTo((oha.latencyPercentiles.p99 as number) * 1000, 9);
		expect(s.p999Ms).toBeCloseTo((oha.latencyPercentiles["p99.9"] as number) * 1000, 9);
		// The CSV only has request ends, so its wall time can fall short of oha's by process overhead.
		expect(s.wallMs).toBeLessThanOrEqual(oha.summary.total * 1000);
		expect(s.wallMs).toBeGreaterThan(oha.summary.total * 1000 * 0.99);
	});
});
