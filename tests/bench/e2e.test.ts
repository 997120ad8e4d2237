import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { findOnPath } from "../../bench/processes.ts";
import { readResults } from "../../bench/results.ts";
import { freePort, startServer } from "../../bench/runtimes.ts";
import { hasOhaFixtures, hasServer, OHA_FIXTURES, ROOT, runCli, tempDir } from "./helpers.ts";

if (!hasServer)
	console.warn(
		"models/manifest.json or src/serve/node.ts missing: the end-to-end bench is skipped",
	);

describe.skipIf(!hasServer)("end-to-end bench with the built-in generator", () => {
	test(
		"node, bun and deno serve two models and the floor without errors",
		async () => {
			const out = tempDir("e2e");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"node,bun,deno",
				"--models",
				"gbdt-onnx,mlp-ts,floor",
				"--requests",
				"30",
				"--warmup",
				"5",
				"--rounds",
				"1",
				"--loadgen",
				"builtin",
				"--out",
				out,
			]);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			expect(result.stdout).toContain("By runtime");
			expect(result.stdout).toContain("By model");
			expect(result.stdout).toContain("Startup and memory");
			expect(result.stdout).toMatch(/^deno\s+1\s+\d+\s+\S+\s+\S+\s+\d+\s+1\/1$/m);
			const progress = result.stderr.split("\n").filter((l) => l.startsWith("[round 1/1]"));
			expect(progress).toHaveLength(3 + 9);

			const results = readResults(join(out, "results.json"));
			expect(results.cells).toHaveLength(9);
			for (const cell of results.cells) {
				const where = `${cell.runtime} ${cell.model}`;
				expect({
					where,
					count: cell.stats.count,
					errors: cell.stats.errors,
					codes: cell.stats.statusCodes,
				}).toEqual({
					where,
					count: 30,
					errors: 0,
					codes: { "200": 30 },
				});
				expect(cell.generator.name).toBe("builtin");
				const raw = readFileSync(join(out, cell.rawFile), "utf8").trim().split("\n");
				expect(raw).toHaveLength(31);
				if (cell.model === "floor") {
					expect(cell.infer.source).toBe("none");
				} else {
					// Every prediction carries Server-Timing, and the model's time is inside the request's.
					expect(cell.infer).toMatchObject({ source: "loadgen", count: 30 });
					expect(cell.infer.medianMs ?? Number.NaN).toBeLessThan(cell.stats.p50Ms ?? 0);
				}
			}
			expect(results.processes).toHaveLength(3);
			for (const p of results.processes) {
				expect({ runtime: p.runtime, exit: p.exitCode, killed: p.killed }).toEqual({
					runtime: p.runtime,
					exit: 0,
					killed: false,
				});
				expect(p.spawnToReadyMs).toBeGreaterThan(0);
				if (existsSync("/proc/self/status")) {
					expect(p.peakRssKiB ?? 0).toBeGreaterThan(10_000);
					expect(p.cpuMs ?? 0).toBeGreaterThan(0);
				}
			}
			expect(Object.keys(results.environment.runtimes)).toEqual(["node", "bun", "deno"]);
			const report = readFileSync(join(out, "report.md"), "utf8");
			expect(report).toContain("![Latency by runtime and model](latency.svg)");
			expect(existsSync(join(out, "latency.svg"))).toBe(true);
		},
		{ timeout: 60_000 },
	);
});

describe.skipIf(!hasServer || !hasOhaFixtures)("bench with an oha stand-in", () => {
	test("records oha as the generator and reads Server-Timing from a side sample", async () => {
		const bin = tempDir("oha-bin");
		// Prints the fixture run (1000 rows) whatever it is asked: this checks the wiring, not numbers.
		writeFileSync(
			join(bin, "oha"),
			`#!/bin/sh\nif [ "$1" = "--version" ]; then echo "oha 1.15.0"; exit 0; fi\ncat "${join(OHA_FIXTURES, "synthetic-output.csv")}"\n`,
		);
		chmodSync(join(bin, "oha"), 0o755);
		const out = tempDir("oha-out");
		const result = await runCli(
			"bench/cli.ts",
			[
				"--runtimes",
				"bun",
				"--models",
				"mlp-ts,floor",
				"--requests",
				"1000",
				"--warmup",
				"0",
				"--rounds",
				"1",
				"--out",
				out,
			],
			{ env: { PATH: `${bin}:${process.env.PATH ?? ""}` } },
		);
		expect(result.code).toBe(0);
		const results = readResults(join(out, "results.json"));
		expect(results.environment.generator).toEqual({ name: "oha", version: "1.15.0" });
		const [model, floor] = results.cells;
		expect(model?.stats.count).toBe(1000);
		expect(model?.infer.source).toBe("sample");
		expect(model?.infer.count).toBeGreaterThan(0);
		expect(model?.infer.medianMs).not.toBeNull();
		expect(floor?.infer.source).toBe("none");
		expect(readFileSync(join(out, "report.md"), "utf8")).toContain("- Load generator: oha 1.15.0");
	}, 30_000);
});

const canPin = process.platform === "linux" && findOnPath("taskset") !== null && cpus().length >= 2;

describe.skipIf(!hasServer || !canPin)("pinning", () => {
	test("the server runs on the cores it was given", async () => {
		const server = await startServer("bun", {
			root: ROOT,
			port: await freePort(),
			readyTimeoutMs: 30_000,
			cpuList: "0",
		});
		try {
			const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
			expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1]).toBe("0");
		} finally {
			const stop = await server.stop();
			expect(stop.code).toBe(0);
		}
	}, 30_000);
});
