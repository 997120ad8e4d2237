import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readResults, workersOf } from "../../bench/results.ts";
import { hasServer, runCli, tempDir } from "./helpers.ts";

const linux = existsSync("/proc/self/status");

describe.skipIf(!hasServer)("end-to-end: --workers and --soak with the real server", () => {
	test(
		"node with WORKERS=1 and 2: a cell per workers value, and RSS summed over the workers",
		async () => {
			const out = tempDir("e2e-workers");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"node",
				"--models",
				"gbdt-ts",
				"--workers",
				"1,2",
				"--requests",
				"50",
				"--warmup",
				"5",
				"--concurrency",
				"1,4",
				"--rounds",
				"1",
				"--loadgen",
				"builtin",
				"--out",
				out,
			]);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			expect(result.stdout).toContain("Concurrency and workers sweep");
			const results = readResults(join(out, "results.json"));
			expect(results.options.workers).toEqual(["1", "2"]);
			const cells = results.cells.map((c) => ({
				w: workersOf(c),
				c: c.concurrency,
				count: c.stats.count,
				errors: c.stats.errors,
				codes: c.stats.statusCodes,
			}));
			expect(cells).toEqual(
				[1, 2].flatMap((w) =>
					[1, 4].map((c) => ({ w, c, count: 50, errors: 0, codes: { "200": 50 } })),
				),
			);
			for (const cell of results.cells) {
				expect(readFileSync(join(out, cell.rawFile), "utf8").trim().split("\n")).toHaveLength(51);
			}
			const [one, two] = results.processes;
			expect(results.processes.map((p) => [p.workers, p.exitCode, p.killed])).toEqual([
				[1, 0, false],
				[2, 0, false],
			]);
			if (linux) {
				// The supervisor and its two worker processes.
				expect(one?.processCount).toBe(1);
				expect(two?.processCount).toBe(3);
				expect(two?.peakRssKiB ?? 0).toBeGreaterThan((one?.peakRssKiB ?? 0) * 1.5);
			}
			const report = readFileSync(join(out, "report.md"), "utf8");
			expect(report).toContain("| node | 2 | gbdt-ts | 4 |");
			const svg = readFileSync(join(out, "throughput.svg"), "utf8");
			expect(svg).toContain('font-weight="bold">gbdt-ts</text>');
			expect(svg).toContain(">node x1</text>");
			expect(svg).toContain(">node x2</text>");
		},
		{ timeout: 30_000 },
	);

	test(
		"a 4 s soak on bun with the mark at 1 s: zero errors, RSS sampled every second, PASS",
		async () => {
			const out = tempDir("e2e-soak");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"bun",
				"--soak",
				"4s",
				"--soak-mark",
				"1s",
				"--warmup",
				"20",
				"--loadgen",
				"builtin",
				"--out",
				out,
			]);
			expect(result.stdout).toContain("Soak");
			const results = readResults(join(out, "results.json"));
			expect(results.cells).toHaveLength(0);
			const soak = results.soak;
			expect(soak).toMatchObject({ durationMs: 4000, markMs: 1000, concurrency: 32 });
			expect(soak?.models).toEqual(["mlp-onnx", "gbdt-onnx", "mlp-ts", "gbdt-ts"]);
			const run = soak?.runs[0];
			expect(run?.stats.errors).toBe(0);
			expect(run?.stats.requests ?? 0).toBeGreaterThan(100);
			expect(Object.keys(run?.stats.statusCodes ?? {})).toEqual(["200"]);
			expect(run?.stats.wallMs ?? 0).toBeGreaterThanOrEqual(4000);
			if (linux) {
				expect(run?.rss.length ?? 0).toBeGreaterThanOrEqual(5);
				expect(run?.rssAtMarkKiB ?? 0).toBeGreaterThan(10_000);
				expect(run?.growth).not.toBeNull();
				// A 4 s soak is no memory verdict, but the exit status must follow it.
				expect(result.code).toBe(run?.pass ? 0 : 1);
				const report = readFileSync(join(out, "report.md"), "utf8");
				expect(report).toContain("### Soak");
				expect(report).toContain("![Server RSS during the soak](rss.svg)");
				expect(readFileSync(join(out, "rss.svg"), "utf8")).toContain("<polyline");
			}
		},
		{ timeout: 30_000 },
	);
});
