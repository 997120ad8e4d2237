import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseResults, ResultsError, readResults, writeResults } from "../../bench/results.ts";
import { FIXTURES, tempDir } from "./helpers.ts";

const fixture = join(FIXTURES, "results.json");

describe("results.json schema", () => {
	test("the fixture validates and survives a write and read back unchanged", () => {
		const results = readResults(fixture);
		expect(results.cells).toHaveLength(24);
		const out = join(tempDir("results"), "results.json");
		writeResults(out, results);
		expect(readResults(out)).toEqual(results);
		expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(
			JSON.parse(readFileSync(fixture, "utf8")),
		);
	});

	test("null latencies (a cell with no responses) round-trip as null", () => {
		const results = readResults(fixture);
		const first = results.cells[0];
		if (!first) throw new Error("fixture has no cells");
		first.stats = {
			...first.stats,
			count: 0,
			errors: 1000,
			statusCodes: {},
			avgMs: null,
			p50Ms: null,
			p99Ms: null,
		};
		const out = join(tempDir("results"), "results.json");
		writeResults(out, results);
		expect(readResults(out).cells[0]?.stats.p50Ms).toBeNull();
	});

	test("a broken file names where it breaks", () => {
		const json = JSON.parse(readFileSync(fixture, "utf8"));
		json.cells[3].stats.count = -1;
		expect(() => parseResults(JSON.stringify(json))).toThrow(/at cells\.3\.stats\.count/);
		json.cells[3].stats.count = 1;
		json.cells[3].runtime = "python";
		expect(() => parseResults(JSON.stringify(json))).toThrow(/at cells\.3\.runtime/);
		expect(() => parseResults("{not json")).toThrow(ResultsError);
		const missing = join(tempDir("results"), "nope.json");
		expect(() => readResults(missing)).toThrow(/cannot read/);
		writeFileSync(missing, JSON.stringify({ schemaVersion: 2 }));
		expect(() => readResults(missing)).toThrow(/schemaVersion/);
	});
});
