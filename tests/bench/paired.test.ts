import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import { targetOf } from "../../bench/loadgen/builtin-worker.ts";
import type { Sample } from "../../bench/loadgen/types.ts";
import { apportionWallUs, balancedDiffMs, pairFigures, samplesOf } from "../../bench/paired.ts";
import { readResults } from "../../bench/results.ts";
import { FIXTURES, ROOT, runCli, tempDir } from "./helpers.ts";

/**
 * The paired measurement behind --metrics on,off: two servers up at once, one generator run
 * alternating requests between them (A B, B A, ...), samples tagged with their server.
 */

describe("the order of targets", () => {
	test("plain rotation, and alternating cycles (A B B A A B B A)", () => {
		const order = (n: number, alternate: boolean, count: number) =>
			Array.from({ length: count }, (_, i) => targetOf(i, n, { alternate, block: 1 }));
		expect(order(2, false, 6)).toEqual([0, 1, 0, 1, 0, 1]);
		expect(order(2, true, 8)).toEqual([0, 1, 1, 0, 0, 1, 1, 0]);
		expect(order(3, true, 9)).toEqual([0, 1, 2, 2, 1, 0, 0, 1, 2]);
		expect(order(1, true, 3)).toEqual([0, 0, 0]);
	});

	test("in blocks: each target `block` times in a row (A A A B B B A A A ...)", () => {
		const blocks = (n: number, block: number, alternate: boolean, count: number) =>
			Array.from({ length: count }, (_, i) => targetOf(i, n, { alternate, block }));
		expect(blocks(2, 3, false, 9)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0]);
		expect(blocks(2, 2, true, 10)).toEqual([0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
	});
});

describe("the built-in generator over two servers", () => {
	/** Arrivals at both servers, in order: "A GET /a" or "B POST /b {...}". */
	const log: string[] = [];
	const sockets = { A: new Set<unknown>(), B: new Set<unknown>() };
	const hosts = { A: new Set<string>(), B: new Set<string>() };
	const servers: Server[] = [];
	const ports = { A: 0, B: 0 };

	beforeAll(async () => {
		for (const name of ["A", "B"] as const) {
			const server = createServer((req: IncomingMessage, res: ServerResponse) => {
				sockets[name].add(req.socket);
				hosts[name].add(req.headers.host ?? "");
				let body = "";
				req.on("data", (chunk: Buffer) => {
					body += chunk.toString();
				});
				req.on("end", () => {
					log.push(`${name} ${req.method} ${req.url}${body ? ` ${body}` : ""}`);
					// The status tells the servers apart in the samples: A answers 200, B 201.
					res.writeHead(name === "A" ? 200 : 201, {
						"content-length": 2,
						"server-timing": `infer;dur=${name === "A" ? "0.001" : "0.002"}`,
					});
					res.end("ok");
				});
			});
			await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
			ports[name] = (server.address() as AddressInfo).port;
			servers.push(server);
		}
	});

	afterAll(() => {
		for (const server of servers) server.close();
	});

	test("alternates A B, B A over one keep-alive connection per server, tagging each sample", async () => {
		const gen = await BuiltinGenerator.create(
			join(ROOT, "node_modules", ".bin", "node"),
			"0.0.0-test",
		);
		const a = `http://127.0.0.1:${ports.A}/a`;
		const b = `http://127.0.0.1:${ports.B}/b`;
		const result = await gen.run({
			url: a,
			method: "GET",
			requests: 12,
			concurrency: 1,
			warmup: 6,
			targets: [
				{ method: "GET", url: a, body: "" },
				{ method: "POST", url: b, body: '{"x":1}' },
			],
			alternate: true,
		});
		const pattern = [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0];
		const arrival = (t: number) => (t === 0 ? "A GET /a" : 'B POST /b {"x":1}');
		// Warm-up (6) then the measured 12, each phase starting with A.
		expect(log).toEqual([...pattern.slice(0, 6), ...pattern].map(arrival));
		expect(sockets.A.size).toBe(1);
		expect(sockets.B.size).toBe(1);
		expect([...hosts.A]).toEqual([`127.0.0.1:${ports.A}`]);
		expect([...hosts.B]).toEqual([`127.0.0.1:${ports.B}`]);
		expect(result.errors).toBe(0);
		expect(result.targetErrors).toEqual([0, 0]);
		const byIndex = [...result.samples].sort((x, y) => (x.index ?? 0) - (y.index ?? 0));
		expect(byIndex.map((s) => s.index)).toEqual(pattern.map((_, i) => i));
		expect(byIndex.map((s) => s.target)).toEqual(pattern);
		// The tag matches the server that answered.
		for (const s of result.samples) {
			expect(s.status).toBe(s.target === 0 ? 200 : 201);
			expect(s.inferMs).toBe(s.target === 0 ? 0.001 : 0.002);
		}
		// Sequential: each request starts after the previous one ended.
		for (let i = 1; i < byIndex.length; i++) {
			const prev = byIndex[i - 1] as Sample;
			expect((byIndex[i] as Sample).startUs >= prev.startUs + prev.durationUs).toBe(true);
		}
		expect(samplesOf(result.samples, 1).every((s) => s.status === 201)).toBe(true);
		expect(samplesOf(result.samples, 0)).toHaveLength(6);
	});
});

/** A sample of the paired run: request `index` to `target`, taking `us`. */
const sample = (index: number, target: number, us: number, status = 200): Sample => ({
	startUs: index * 1000,
	durationUs: us,
	status,
	inferMs: null,
	target,
	index,
});

describe("pairs", () => {
	test("requests 2k and 2k+1 pair up; on − off per pair; failed or non-2xx pairs are left out", () => {
		// Target 0 is on. Order A B B A A B B A A B B A: pairs 0, 2, 4 have on first.
		const samples = [
			sample(0, 0, 110),
			sample(1, 1, 100), // pair 0: +10, on first
			sample(2, 1, 100),
			sample(3, 0, 104), // pair 1: +4, off first
			sample(4, 0, 100),
			sample(5, 1, 101), // pair 2: −1, on first
			sample(6, 1, 100),
			sample(7, 0, 102), // pair 3: +2, off first
			sample(8, 0, 100),
			// 9 failed: pair 4 is out
			sample(10, 1, 100),
			sample(11, 0, 900, 500), // pair 5: a 500, out
			sample(12, 0, 103),
			sample(13, 1, 100), // pair 6: +3, on first
			sample(14, 1, 100), // 15 never sent: pair 7 is out
		];
		const figures = pairFigures(samples, 0);
		expect(figures.pairs).toBe(5);
		// Differences in ms: 0.010, 0.004, -0.001, 0.002, 0.003; sorted -0.001 0.002 0.003 0.004 0.010.
		expect(figures.medianDiffMs).toBeCloseTo(0.003, 12);
		expect(figures.p25DiffMs).toBeCloseTo(0.002, 12); // sorted[floor(0.25 * 5)] = sorted[1]
		expect(figures.p75DiffMs).toBeCloseTo(0.004, 12); // sorted[3]
		expect(figures.onFirstMedianDiffMs).toBeCloseTo(0.003, 12); // 0.010, -0.001, 0.003
		expect(figures.offFirstMedianDiffMs).toBeCloseTo(0.003, 12); // 0.004, 0.002: mean of the two
		// Balanced: the mean of the two orders' medians.
		expect(balancedDiffMs(figures)).toBeCloseTo(0.003, 12);
		// With target 1 as the on server, every difference changes sign.
		const flipped = pairFigures(samples, 1);
		expect(flipped.medianDiffMs).toBeCloseTo(-0.003, 12);
		expect(flipped.onFirstMedianDiffMs).toBeCloseTo(-0.003, 12);
	});

	test("balanced: two clusters (the repeat effect) cancel where the pooled median cannot", () => {
		// On costs 2 µs; the first request of every pair (a repeat of the server before it) is 50 µs
		// faster, so on-first pairs read 2 − 50 and off-first pairs 2 + 50, plus a little noise.
		const samples: Sample[] = [];
		const noise = [0, 1, -1, 0, -2, 0, 1, -3, 1, -1, 0, 2];
		for (let k = 0; k < noise.length; k++) {
			const onFirst = k % 2 === 0; // A B, B A, ... with target 0 on
			const on = 100 + 2 + (onFirst ? 0 : 50) + (noise[k] as number);
			const off = 100 + (onFirst ? 50 : 0);
			samples.push(
				sample(2 * k, onFirst ? 0 : 1, onFirst ? on : off),
				sample(2 * k + 1, onFirst ? 1 : 0, onFirst ? off : on),
			);
		}
		const figures = pairFigures(samples, 0);
		expect(figures.onFirstMedianDiffMs).toBeCloseTo(-0.048, 12); // -48 + 0, -1, -2, 1, 1, 0
		expect(figures.offFirstMedianDiffMs).toBeCloseTo(0.052, 12); // 52 + 1, 0, 0, -3, -1, 2
		expect(balancedDiffMs(figures)).toBeCloseTo(0.002, 12);
		// The pooled median sits in the gap between the clusters: the mean of -47 and 49.
		expect(figures.medianDiffMs).toBeCloseTo(0.001, 12);
		expect(balancedDiffMs({ onFirstMedianDiffMs: 0.001, offFirstMedianDiffMs: null })).toBeNull();
	});

	test("no pairs: counts 0 and null figures", () => {
		expect(pairFigures([sample(0, 0, 100)], 0)).toEqual({
			pairs: 0,
			medianDiffMs: null,
			p25DiffMs: null,
			p75DiffMs: null,
			onFirstMedianDiffMs: null,
			offFirstMedianDiffMs: null,
		});
	});

	test("samples without their target and index cannot be paired", () => {
		expect(() =>
			pairFigures([{ startUs: 0, durationUs: 1, status: 200, inferMs: null }], 0),
		).toThrow("target and index");
	});

	test("each server's wall time is the run's, shared by their summed durations", () => {
		const all = [sample(0, 0, 300), sample(1, 1, 100)];
		expect(apportionWallUs(1000, samplesOf(all, 0), all)).toBe(750);
		expect(apportionWallUs(1000, samplesOf(all, 1), all)).toBe(250);
		expect(apportionWallUs(1000, [], [])).toBe(0);
	});
});

describe("a paired run end to end, with stand-in servers", () => {
	const common = [
		"--runtimes",
		"node",
		"--models",
		"gbdt-ts,floor",
		"--metrics",
		"on,off",
		"--requests",
		"20",
		"--warmup",
		"4",
	];
	const env = { BENCH_SERVE_DIR: join(FIXTURES, "tiny") };

	test(
		"both servers up at once, every cell paired, the cost table printed",
		async () => {
			const out = tempDir("paired");
			const result = await runCli(
				"bench/cli.ts",
				[...common, "--rounds", "2", "--loadgen", "builtin", "--out", out],
				{ env },
			);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			const results = readResults(join(out, "results.json"));
			// Per round one pair of servers, A turning: on first in round 1, off first in round 2.
			expect(results.processes.map((p) => `${p.round}:${p.metrics}`)).toEqual([
				"1:on",
				"1:off",
				"2:off",
				"2:on",
			]);
			expect(new Set(results.processes.map((p) => p.port)).size).toBe(4);
			expect(results.cells).toHaveLength(8);
			for (const cell of results.cells) {
				expect(cell.concurrency).toBe(1);
				expect(cell.stats.statusCodes).toEqual({ "200": 20 });
				expect(cell.rawFile.includes("-metrics-off-")).toBe(cell.metrics === "off");
				const raw = readFileSync(join(out, cell.rawFile), "utf8").trim().split("\n");
				expect(raw).toHaveLength(21);
			}
			const pairs = results.pairs ?? [];
			expect(pairs.map((p) => `${p.round}:${p.model}:${p.first}:${p.pairs}`).sort()).toEqual([
				"1:floor:on:20",
				"1:gbdt-ts:on:20",
				"2:floor:off:20",
				"2:gbdt-ts:off:20",
			]);
			expect(pairs.every((p) => p.medianDiffMs !== null)).toBe(true);
			expect(result.stdout).toContain("Cost of metrics");
			expect(result.stdout).toContain("paired µs");
			expect(result.stderr).toContain("paired on − off: median");
			expect(readFileSync(join(out, "report.md"), "utf8")).toContain("### Cost of metrics");
		},
		{ timeout: 60_000 },
	);

	test(
		"with oha selected, the built-in generator measures the paired run and the report says so",
		async () => {
			const out = tempDir("paired-oha");
			const oha = join(out, "oha");
			writeFileSync(oha, "#!/bin/sh\necho oha 1.9.0\n");
			chmodSync(oha, 0o755);
			const result = await runCli(
				"bench/cli.ts",
				[...common, "--rounds", "1", "--loadgen", "oha", "--out", out],
				{ env: { ...env, OHA_BIN: oha } },
			);
			expect(result.code).toBe(0);
			const note =
				"--metrics on,off alternates requests between two servers, which oha cannot: the built-in generator measured this run";
			expect(result.stderr).toContain(`bench: ${note}`);
			const results = readResults(join(out, "results.json"));
			expect(results.environment.generator.name).toBe("builtin");
			expect(results.environment.generatorNote).toBe(note);
			expect(results.options.loadgen).toBe("oha");
			expect(results.cells.every((c) => c.generator.name === "builtin")).toBe(true);
			expect(result.stdout).toContain(note);
			expect(readFileSync(join(out, "report.md"), "utf8")).toContain(`(${note})`);
		},
		{ timeout: 60_000 },
	);
});
