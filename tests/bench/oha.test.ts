import { describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	OhaError,
	ohaArgs,
	parseOhaCsv,
	parseOhaVersion,
	probeOha,
	versionAtLeast,
} from "../../bench/loadgen/oha.ts";
import { DEFAULT_BODY } from "../../bench/options.ts";
import { hasOhaFixtures, OHA_FIXTURES, tempDir } from "./helpers.ts";

const fixture = (name: string) => join(OHA_FIXTURES, name);

describe("oha version", () => {
	test("parses `oha --version` and compares against 1.9.0", () => {
		expect(parseOhaVersion("oha 1.15.0\n")).toEqual([1, 15, 0]);
		expect(parseOhaVersion("no version here")).toBeNull();
		expect(versionAtLeast([1, 15, 0], [1, 9, 0])).toBe(true);
		expect(versionAtLeast([1, 9, 0], [1, 9, 0])).toBe(true);
		expect(versionAtLeast([1, 8, 9], [1, 9, 0])).toBe(false);
		expect(versionAtLeast([2, 0, 0], [1, 9, 0])).toBe(true);
	});
});

describe("oha arguments", () => {
	test("POST sends method, content type and body", () => {
		const args = ohaArgs({
			url: "http://127.0.0.1:1234/predict/gbdt-onnx",
			method: "POST",
			body: DEFAULT_BODY,
			contentType: "application/json",
			requests: 1000,
			concurrency: 1,
		});
		expect(args).toEqual([
			"-n",
			"1000",
			"-c",
			"1",
			"--no-tui",
			"-m",
			"POST",
			"-T",
			"application/json",
			"-d",
			DEFAULT_BODY,
			"--output-format",
			"csv",
			"http://127.0.0.1:1234/predict/gbdt-onnx",
		]);
	});

	test("GET (the floor) has no -m, -T or -d", () => {
		const args = ohaArgs({
			url: "http://127.0.0.1:1/health",
			method: "GET",
			requests: 5,
			concurrency: 2,
		});
		expect(args).toEqual([
			"-n",
			"5",
			"-c",
			"2",
			"--no-tui",
			"--output-format",
			"csv",
			"http://127.0.0.1:1/health",
		]);
	});
});

describe("oha CSV", () => {
	test("rejects output that is not oha's CSV", () => {
		expect(() => parseOhaCsv('{"summary":{}}')).toThrow(OhaError);
		expect(() =>
			parseOhaCsv(
				"request-start,DNS,DNS+dialup,Response-delay,request-duration,bytes,status\n1,2,3\n",
			),
		).toThrow(/3 columns/);
	});

	test.skipIf(!hasOhaFixtures)("real sample: one row, seconds to microseconds", () => {
		const [row, ...rest] = parseOhaCsv(readFileSync(fixture("real-csv-sample.csv"), "utf8"));
		expect(rest).toHaveLength(0);
		expect(row?.status).toBe(200);
		expect(row?.startUs).toBeCloseTo(2211.678, 6);
		expect(row?.durationUs).toBeCloseTo(2626.127, 6);
		expect(row?.inferMs).toBeNull();
	});

	test.skipIf(!hasOhaFixtures)("synthetic run: one row per response, matching oha's JSON", () => {
		const rows = parseOhaCsv(readFileSync(fixture("synthetic-output.csv"), "utf8"));
		const json = JSON.parse(readFileSync(fixture("synthetic-output.json"), "utf8")) as {
			statusCodeDistribution: Record<string, number>;
		};
		expect(rows).toHaveLength(1000);
		const codes: Record<string, number> = {};
		for (const r of rows) codes[r.status] = (codes[r.status] ?? 0) + 1;
		expect(codes).toEqual(json.statusCodeDistribution);
	});
});

/** A stand-in `oha` that records its argv and prints a fixture CSV. */
function fakeOha(
	version: string,
	exitCode = 0,
): { dir: string; env: NodeJS.ProcessEnv; argvFile: string } {
	const dir = tempDir("oha");
	const argvFile = join(dir, "argv.txt");
	writeFileSync(
		join(dir, "oha"),
		`#!/bin/sh
if [ "$1" = "--version" ]; then echo "oha ${version}"; exit 0; fi
for arg in "$@"; do printf '%s\\n' "$arg"; done >> "$FAKE_OHA_ARGV"
if [ ${exitCode} -ne 0 ]; then echo "error: something broke" >&2; exit ${exitCode}; fi
cat "$FAKE_OHA_CSV"
`,
	);
	chmodSync(join(dir, "oha"), 0o755);
	const env = {
		PATH: `${dir}:${process.env.PATH ?? ""}`,
		FAKE_OHA_ARGV: argvFile,
		FAKE_OHA_CSV: fixture("synthetic-output.csv"),
	};
	return { dir, env, argvFile };
}

describe.skipIf(!hasOhaFixtures)("oha adapter with a fake oha on PATH", () => {
	test("runs exactly the documented command and parses its CSV", async () => {
		const { env, argvFile } = fakeOha("1.15.0");
		const oha = await probeOha(env);
		expect(oha.info).toEqual({ name: "oha", version: "1.15.0" });
		const url = "http://127.0.0.1:4321/predict/mlp-onnx";
		const result = await oha.run({
			url,
			method: "POST",
			body: DEFAULT_BODY,
			contentType: "application/json",
			requests: 1000,
			concurrency: 1,
		});
		expect(readFileSync(argvFile, "utf8").split("\n").slice(0, -1)).toEqual([
			"-n",
			"1000",
			"-c",
			"1",
			"--no-tui",
			"-m",
			"POST",
			"-T",
			"application/json",
			"-d",
			DEFAULT_BODY,
			"--output-format",
			"csv",
			url,
		]);
		expect(result.samples).toHaveLength(1000);
		expect(result.errors).toBe(0);
		expect(result.generator).toEqual({ name: "oha", version: "1.15.0" });
		expect(result.readsServerTiming).toBe(false);
		expect(result.wallUs).toBeGreaterThan(0);
	});

	test("a warm-up is a separate oha run before the measured one", async () => {
		const { env, argvFile } = fakeOha("1.15.0");
		const oha = await probeOha(env);
		const url = "http://127.0.0.1:4321/health";
		const result = await oha.run({
			url,
			method: "GET",
			requests: 1000,
			concurrency: 1,
			warmup: 200,
		});
		const argv = readFileSync(argvFile, "utf8").split("\n").slice(0, -1);
		const runs = [argv.slice(0, 8), argv.slice(8)];
		expect(runs[0]).toEqual(["-n", "200", "-c", "1", "--no-tui", "--output-format", "csv", url]);
		expect(runs[1]).toEqual(["-n", "1000", "-c", "1", "--no-tui", "--output-format", "csv", url]);
		expect(result.samples).toHaveLength(1000);
	});

	test("host steal: snapshots right around the measured oha run only, when asked", async () => {
		const { env, argvFile } = fakeOha("1.15.0");
		// Each snapshot notes how many oha runs had finished (8 arguments a run) by then.
		const seen: { cpuList: string | undefined; runs: number }[] = [];
		const read = (cpuList: string | undefined) => {
			const argv = readFileSync(argvFile, "utf8").split("\n").slice(0, -1);
			seen.push({ cpuList, runs: argv.length / 8 });
			return { total: 300 * seen.length, steal: 63 * seen.length };
		};
		const oha = await probeOha(env, read);
		const request = {
			url: "http://127.0.0.1:4321/health",
			method: "GET" as const,
			requests: 1000,
			concurrency: 1,
			warmup: 200,
		};
		expect("hostStealPct" in (await oha.run(request))).toBe(false);
		expect(seen).toEqual([]);
		const result = await oha.run({ ...request, steal: { cpuList: "0" } });
		// Runs 1-2 were the first call; 3 is this call's warm-up, 4 its measured run.
		expect(seen).toEqual([
			{ cpuList: "0", runs: 3 },
			{ cpuList: "0", runs: 4 },
		]);
		expect(result.hostStealPct).toBe(21);
		expect(result.samples).toHaveLength(1000);
	});

	test("host steal in duration mode too: around the measured run, every CPU when none named", async () => {
		const { env } = fakeOha("1.15.0");
		const lists: (string | undefined)[] = [];
		const read = (cpuList: string | undefined) => {
			lists.push(cpuList);
			return null;
		};
		const oha = await probeOha({ ...env, FAKE_OHA_CSV: fixture("synthetic-output.json") }, read);
		const result = await oha.run({
			url: "http://127.0.0.1:4321/health",
			method: "GET",
			requests: 0,
			concurrency: 1,
			durationMs: 1000,
			steal: {},
		});
		expect(lists).toEqual([undefined, undefined]);
		expect(result.hostStealPct).toBeNull();
		expect(result.summary?.responses).toBeGreaterThan(0);
	});

	test("requests without a row are counted as errors", async () => {
		const { env } = fakeOha("1.15.0");
		const oha = await probeOha(env);
		const result = await oha.run({
			url: "http://127.0.0.1:1/health",
			method: "GET",
			requests: 1004,
			concurrency: 4,
		});
		expect(result.samples).toHaveLength(1000);
		expect(result.errors).toBe(4);
	});

	test("OHA_BIN wins over PATH", async () => {
		const { dir, env } = fakeOha("1.12.3");
		const oha = await probeOha({ ...env, PATH: "/nonexistent", OHA_BIN: join(dir, "oha") });
		expect(oha.info.version).toBe("1.12.3");
		expect(oha.bin).toBe(join(dir, "oha"));
	});

	test("too old, missing, or failing oha are errors naming the cause", async () => {
		await expect(probeOha(fakeOha("1.8.0").env)).rejects.toThrow(/oha 1\.8\.0 is too old/);
		await expect(probeOha({ PATH: "/nonexistent" })).rejects.toThrow(/oha not found/);
		const broken = await probeOha(fakeOha("1.15.0", 1).env);
		await expect(
			broken.run({ url: "http://127.0.0.1:1/", method: "GET", requests: 1, concurrency: 1 }),
		).rejects.toThrow(/oha exited with 1: error: something broke/);
	});
});
