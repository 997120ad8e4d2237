import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import { ohaArgs, ohaDuration, parseOhaJson } from "../../bench/loadgen/oha.ts";
import { parseDuration, parseOptions, parseWorkers, UsageError } from "../../bench/options.ts";
import { buildPlan } from "../../bench/plan.ts";
import { childPids, processTree, treeCpuMs, treeMemory } from "../../bench/proc-stats.ts";
import type { Soak, SoakRun } from "../../bench/results.ts";
import { serverLogLevel } from "../../bench/runtimes.ts";
import {
	judgeRss,
	SOAK_DEFAULT_MODEL,
	soakFailure,
	soakModels,
	soakPasses,
} from "../../bench/soak.ts";
import { hasOhaFixtures, OHA_FIXTURES, ROOT, runCli } from "./helpers.ts";

describe("--workers and --soak options", () => {
	test("workers: list, auto = CPU count, default 1", () => {
		expect(parseOptions([]).workers).toEqual([1]);
		expect(parseOptions(["--workers", "1,2"]).workers).toEqual([1, 2]);
		expect(parseOptions(["--workers", "1,auto"])).toMatchObject({
			workers: [1, availableParallelism()],
			workersSpec: ["1", "auto"],
		});
		expect(parseWorkers("auto,1", 4)).toEqual([4, 1]);
	});

	test("soak: durations with units, bare seconds, the mark defaults to 10 s", () => {
		expect(parseOptions(["--soak", "60s"])).toMatchObject({ soakMs: 60_000, soakMarkMs: 10_000 });
		expect(parseOptions(["--soak", "2m"]).soakMs).toBe(120_000);
		expect(parseOptions(["--soak", "4s", "--soak-mark", "1s"])).toMatchObject({
			soakMs: 4000,
			soakMarkMs: 1000,
		});
		expect(parseDuration("soak", "1500ms")).toBe(1500);
		expect(parseDuration("soak", "15")).toBe(15_000);
		expect(parseOptions([]).soakMs).toBeNull();
	});

	const bad: [string[], RegExp][] = [
		[["--workers", "0"], /--workers values must be 1-64, got 0/],
		[["--workers", "65"], /--workers values must be 1-64/],
		[["--workers", "two"], /--workers takes whole numbers 1-64 or "auto", got "two"/],
		[["--workers", "1,1"], /--workers lists a value twice/],
		[["--soak", "soon"], /--soak must be a duration like 60s, 2m or 500ms, got "soon"/],
		[["--soak", "10x"], /--soak must be a duration/],
		[["--soak", "0s"], /--soak must be longer than 0/],
		[["--soak=-5s"], /--soak must be a duration/],
		[["--soak-mark", "1s"], /--soak-mark needs --soak/],
		[["--soak", "5s", "--soak-mark", "5s"], /--soak-mark \(5 s\) must be shorter than --soak/],
		[["--soak", "20s", "--concurrency", "1,2"], /--soak takes one --concurrency value/],
	];
	for (const [argv, message] of bad) {
		test(`rejects ${argv.join(" ")}`, () => {
			expect(() => parseOptions(argv)).toThrow(UsageError);
			expect(() => parseOptions(argv)).toThrow(message);
		});
	}

	for (const [args, message] of [
		[["--workers", "0"], "bench: --workers values must be 1-64, got 0"],
		[["--soak", "10x"], 'bench: --soak must be a duration like 60s, 2m or 500ms, got "10x"'],
	] as const) {
		test(`CLI: ${args.join(" ")} is a one-line error, exit 1`, async () => {
			const result = await runCli("bench/cli.ts", args);
			expect(result.code).toBe(1);
			expect(result.stderr.trim().split("\n")).toEqual([message]);
			expect(result.stdout).toBe("");
		});
	}

	test("the plan runs every runtime for each workers value within a round", () => {
		const plan = buildPlan({
			runtimes: ["node", "deno"],
			models: ["mlp-ts"],
			concurrency: [1],
			rounds: 1,
			workers: [1, 2],
		});
		expect(plan.map((s) => `${s.runtime}x${s.workers}`)).toEqual([
			"nodex1",
			"denox1",
			"nodex2",
			"denox2",
		]);
	});

	test("servers with workers log at info at least, to show their ready lines", () => {
		expect(serverLogLevel(1, {})).toBe("warn");
		expect(serverLogLevel(2, {})).toBe("info");
		expect(serverLogLevel(2, { LOG_LEVEL: "error" })).toBe("info");
		expect(serverLogLevel(2, { LOG_LEVEL: "debug" })).toBe("debug");
		expect(serverLogLevel(1, { LOG_LEVEL: "error" })).toBe("error");
	});
});

describe("soak verdict", () => {
	const samples = [0, 1000, 2000, 3000, 4000].map((tMs, i) => ({
		tMs,
		kib: [100, 200, 205, 215, 210][i] as number,
	}));

	test("growth is the peak from the mark on over the mark's sample", () => {
		expect(judgeRss(samples, 1000)).toEqual({
			rssAtMarkKiB: 200,
			rssEndKiB: 210,
			peakRssKiB: 215,
			peakAfterMarkKiB: 215,
			growth: 1.075,
		});
		expect(judgeRss(samples, 10_000).growth).toBeNull();
		expect(judgeRss([], 1000).rssEndKiB).toBeNull();
	});

	const run = (over: Partial<SoakRun>): SoakRun => ({
		runtime: "node",
		workers: 1,
		port: 1,
		generator: { name: "builtin", version: "x" },
		stats: {
			requests: 10,
			errors: 0,
			statusCodes: { "200": 10 },
			rps: 1,
			p50Ms: 1,
			p99Ms: 1,
			wallMs: 1,
		},
		rss: samples,
		rssAtMarkKiB: 200,
		rssEndKiB: 210,
		peakRssKiB: 215,
		peakAfterMarkKiB: 215,
		growth: 1.075,
		pass: true,
		exitCode: 0,
		killed: false,
		rawFile: null,
		...over,
	});

	test("PASS needs growth <= 1.10, no errors and only 2xx", () => {
		expect(soakPasses(run({}))).toBe(true);
		expect(soakPasses(run({ growth: 1.1 }))).toBe(true);
		expect(soakPasses(run({ growth: 1.11 }))).toBe(false);
		expect(soakPasses(run({ growth: null }))).toBe(false);
		const errors = run({});
		errors.stats = { ...errors.stats, errors: 1 };
		expect(soakPasses(errors)).toBe(false);
		const non2xx = run({});
		non2xx.stats = { ...non2xx.stats, statusCodes: { "200": 9, "503": 1 } };
		expect(soakPasses(non2xx)).toBe(false);
	});

	test("the failure line names each failing runtime and why", () => {
		const soak: Soak = {
			durationMs: 60_000,
			markMs: 10_000,
			concurrency: 32,
			models: ["gbdt-onnx"],
			tolerance: 0.1,
			runs: [run({}), run({ runtime: "bun", workers: 2, growth: 1.25, pass: false })],
		};
		expect(soakFailure(soak)).toBe("soak failed: bun x2 (RSS grew x1.250)");
		expect(soakFailure({ ...soak, runs: [run({})] })).toBeNull();
	});

	test("models: rotate over all four with the built-in generator, one model with oha", () => {
		expect(soakModels({ rotates: true }, ["floor"], false)).toEqual([
			"mlp-onnx",
			"gbdt-onnx",
			"mlp-ts",
			"gbdt-ts",
		]);
		expect(soakModels({ rotates: true }, ["mlp-ts", "floor"], true)).toEqual(["mlp-ts", "floor"]);
		expect(soakModels({ rotates: false }, ["mlp-ts"], false)).toEqual([SOAK_DEFAULT_MODEL]);
		expect(soakModels({ rotates: false }, ["mlp-ts", "gbdt-ts"], true)).toEqual(["mlp-ts"]);
	});
});

describe("oha duration mode", () => {
	test("-z with waiting for in-flight requests, JSON output", () => {
		expect(ohaDuration(60_000)).toBe("60s");
		expect(ohaDuration(1500)).toBe("1500ms");
		expect(
			ohaArgs({
				url: "http://127.0.0.1:1/health",
				method: "GET",
				requests: 0,
				concurrency: 32,
				durationMs: 60_000,
			}),
		).toEqual([
			"-z",
			"60s",
			"-c",
			"32",
			"--no-tui",
			"--wait-ongoing-requests-after-deadline",
			"--output-format",
			"json",
			"http://127.0.0.1:1/health",
		]);
	});

	test.skipIf(!hasOhaFixtures)("reads totals, percentiles and errors from oha's JSON", async () => {
		const text = await Bun.file(join(OHA_FIXTURES, "synthetic-output.json")).text();
		const parsed = parseOhaJson(text);
		const json = JSON.parse(text);
		expect(parsed.summary.responses).toBe(1000);
		expect(parsed.summary.statusCodes).toEqual({ "200": 1000 });
		expect(parsed.errors).toBe(0);
		expect(parsed.summary.p50Ms).toBeCloseTo(json.latencyPercentiles.p50 * 1000, 9);
		expect(parsed.summary.rps).toBe(json.summary.requestsPerSec);
		const withErrors = JSON.stringify({
			...json,
			errorDistribution: { "connection closed": 3, timeout: 2 },
		});
		expect(parseOhaJson(withErrors).errors).toBe(5);
	});
});

describe("process tree readings", () => {
	test.skipIf(process.platform !== "linux")(
		"a child shows up in the tree and its sums",
		async () => {
			const child = Bun.spawn(["sleep", "5"]);
			try {
				await Bun.sleep(50);
				expect(childPids(process.pid)).toContain(child.pid);
				expect(processTree(process.pid)).toContain(child.pid);
				const memory = treeMemory(process.pid);
				expect(memory?.processes ?? 0).toBeGreaterThanOrEqual(2);
				expect(memory?.hwmKiB ?? 0).toBeGreaterThanOrEqual(memory?.rssKiB ?? 1);
				expect(treeCpuMs(process.pid) ?? -1).toBeGreaterThan(0);
			} finally {
				child.kill();
				await child.exited;
			}
		},
	);
});

describe("built-in generator: duration mode", () => {
	let server: Server;
	let port = 0;
	const paths: string[] = [];

	beforeAll(async () => {
		server = createServer((req: IncomingMessage, res: ServerResponse) => {
			req.resume();
			req.on("end", () => {
				paths.push(req.url ?? "");
				// A little latency so requests are in flight at the deadline.
				setTimeout(() => {
					res.writeHead(200, { "content-length": 2 });
					res.end("ok");
				}, 2);
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		port = (server.address() as AddressInfo).port;
	});

	afterAll(() => {
		server.close();
	});

	test("sends for the requested time, lets in-flight requests finish, no errors", async () => {
		const gen = await BuiltinGenerator.create(
			join(ROOT, "node_modules", ".bin", "node"),
			"0.0.0-test",
		);
		paths.length = 0;
		const result = await gen.run({
			url: `http://127.0.0.1:${port}/a`,
			method: "GET",
			requests: 0,
			concurrency: 4,
			durationMs: 1000,
			targets: [
				{ method: "GET", url: `http://127.0.0.1:${port}/a`, body: "" },
				{ method: "POST", url: `http://127.0.0.1:${port}/b`, body: "{}" },
			],
		});
		expect(result.errors).toBe(0);
		expect(result.samples.length).toBeGreaterThan(50);
		// Every request sent got its response: in-flight ones completed after the deadline.
		expect(paths).toHaveLength(result.samples.length);
		expect(result.samples.every((s) => s.status === 200)).toBe(true);
		expect(result.wallUs / 1000).toBeGreaterThanOrEqual(1000);
		// No request started after the deadline.
		expect(Math.max(...result.samples.map((s) => s.startUs))).toBeLessThan(1_000_000);
		// Rotation: the two targets alternate request by request.
		const a = paths.filter((p) => p === "/a").length;
		const b = paths.filter((p) => p === "/b").length;
		expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
	});
});
