import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseOptions, UsageError } from "../../bench/options.ts";
import { buildPlan } from "../../bench/plan.ts";
import { serverSuffix } from "../../bench/raw.ts";
import { derive } from "../../bench/report/derive.ts";
import { markdownReport } from "../../bench/report/markdown.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { latencyTable, metricsCostTable, startupTable } from "../../bench/report/tables.ts";
import { parseResults, type Results, readResults } from "../../bench/results.ts";
import { serverName } from "../../bench/session.ts";
import { FIXTURES, hasServer, runCli, tempDir } from "./helpers.ts";

/**
 * --metrics on,off: the same servers with METRICS=on and METRICS=off in one run, so the report
 * can show what recording metrics costs.
 */

describe("--metrics", () => {
	test("on by default; a list of on and off", () => {
		expect(parseOptions([]).metrics).toEqual(["on"]);
		expect(parseOptions(["--metrics", "on,off"]).metrics).toEqual(["on", "off"]);
		expect(parseOptions(["--metrics", "off"]).metrics).toEqual(["off"]);
	});

	for (const [argv, message] of [
		[["--metrics", "yes"], 'unknown metric "yes" (expected one of on, off)'],
		[["--metrics", "on,on"], "--metrics lists a value twice: on,on"],
		[["--soak", "60s", "--metrics", "on,off"], "--soak takes one --metrics value"],
	] as const) {
		test(`rejects ${argv.join(" ")}`, () => {
			expect(() => parseOptions(argv)).toThrow(UsageError);
			expect(() => parseOptions(argv)).toThrow(message);
		});
	}

	test("each round runs every runtime with each value, the order turning every round", () => {
		const plan = buildPlan({
			runtimes: ["node", "bun"],
			models: ["mlp-ts"],
			concurrency: [1],
			rounds: 3,
			metrics: ["on", "off"],
		});
		expect(plan.map((s) => `${s.round}:${s.runtime}-${s.metrics}`)).toEqual([
			"1:node-on",
			"1:bun-on",
			"1:node-off",
			"1:bun-off",
			"2:node-off",
			"2:bun-off",
			"2:node-on",
			"2:bun-on",
			"3:node-on",
			"3:bun-on",
			"3:node-off",
			"3:bun-off",
		]);
	});

	test("names and raw files say metrics=off; the defaults add nothing", () => {
		expect(serverName("deno", { workers: 1, metrics: "off" })).toBe("deno metrics=off");
		expect(serverName("deno", { workers: 2, metrics: "on" })).toBe("deno x2");
		expect(serverName("deno", { workers: 1, metrics: null })).toBe("deno");
		expect(serverSuffix({ workers: 1, metrics: "off" })).toBe("-metrics-off");
		expect(serverSuffix({ workers: 2, metrics: "on" })).toBe("-w2");
		expect(serverSuffix({ workers: 1, metrics: null })).toBe("");
	});
});

/**
 * The fixture run (node and bun, mlp-onnx and the floor, 3 rounds) as a run with METRICS=on, plus
 * a copy of it with METRICS=off whose p50s are lower by `offsetsMs[round - 1]`.
 */
function onAndOff(offsetsMs: readonly number[]): Results {
	const base = readResults(join(FIXTURES, "results.json"));
	const on = base.cells.map((c) => ({ ...c, metrics: "on" as const }));
	const off = base.cells.map((c) => ({
		...c,
		metrics: "off" as const,
		stats: { ...c.stats, p50Ms: (c.stats.p50Ms ?? 0) - (offsetsMs[c.round - 1] ?? 0) },
	}));
	return {
		...base,
		options: { ...base.options, metrics: ["on", "off"] },
		cells: [...on, ...off],
		processes: [
			...base.processes.map((p) => ({ ...p, metrics: "on" as const })),
			...base.processes.map((p) => ({ ...p, metrics: "off" as const })),
		],
	};
}

describe("the report of an on,off run", () => {
	// Metrics cost 1, 3 and 10 µs in rounds 1, 2 and 3: the paired median is 3 µs.
	const results = onAndOff([0.001, 0.003, 0.01]);
	const sources = labelSources([results]);
	const { rows, servers, metricsPairs } = derive(sources);

	test("rows stay apart by METRICS, each against its own floor", () => {
		const node = rows.filter(
			(r) => r.runtime === "node" && r.model === "mlp-onnx" && r.concurrency === 1,
		);
		expect(node.map((r) => r.metrics)).toEqual(["on", "off"]);
		const floors = rows.filter(
			(r) => r.runtime === "node" && r.model === "floor" && r.concurrency === 1,
		);
		expect(floors.map((r) => r.metrics)).toEqual(["on", "off"]);
		for (const metrics of ["on", "off"] as const) {
			const row = node.find((r) => r.metrics === metrics);
			const floor = floors.find((r) => r.metrics === metrics);
			expect(row?.p50OverFloorMs).toBeCloseTo((row?.p50Ms ?? 0) - (floor?.p50Ms ?? 0), 12);
		}
	});

	test("pairs: the on − off difference of each round", () => {
		const pair = metricsPairs.find(
			(p) => p.runtime === "bun" && p.model === "floor" && p.concurrency === 8,
		);
		expect(pair?.roundDiffsMs.map((d) => Number((d * 1000).toFixed(6)))).toEqual([1, 3, 10]);
		expect(metricsPairs).toHaveLength(8); // 2 runtimes x 2 models x 2 concurrencies
	});

	test("the cost table: both p50s, their difference, the paired median, a row for all models", () => {
		const table = metricsCostTable(rows, metricsPairs, sources);
		expect(table?.headers).toEqual([
			"runtime",
			"model",
			"p50 on ms",
			"p50 off ms",
			"on − off µs",
			"paired µs",
			"p50 range on ms",
			"p50 range off ms",
		]);
		expect(table?.rows.map((r) => [r[0], r[1], r[5]])).toEqual([
			["node", "mlp-onnx", "3.0"],
			["node", "floor", "3.0"],
			["node", "all", "3.0"],
			["bun", "mlp-onnx", "3.0"],
			["bun", "floor", "3.0"],
			["bun", "all", "3.0"],
		]);
		for (const line of table?.rows.filter((r) => r[1] !== "all") ?? []) {
			const [on, off] = ["on", "off"].map(
				(m) =>
					rows.find(
						(r) =>
							r.runtime === line[0] &&
							r.model === line[1] &&
							r.metrics === m &&
							r.concurrency === 1,
					)?.p50Ms ?? Number.NaN,
			) as [number, number];
			expect(line.slice(2, 5)).toEqual([
				on.toFixed(3),
				off.toFixed(3),
				((on - off) * 1000).toFixed(1),
			]);
		}
	});

	test("latency and startup tables get a metrics column", () => {
		const byRuntime = latencyTable(rows, sources, "runtime");
		expect(byRuntime.headers.slice(0, 3)).toEqual(["runtime", "metrics", "model"]);
		expect(byRuntime.rows.map((r) => r.slice(0, 3).join(" ")).slice(0, 4)).toEqual([
			"node on mlp-onnx",
			"node on floor",
			"node off mlp-onnx",
			"node off floor",
		]);
		const startup = startupTable(servers, sources);
		expect(startup.headers.slice(0, 2)).toEqual(["runtime", "metrics"]);
		expect(startup.rows.map((r) => r.slice(0, 2).join(" "))).toEqual([
			"node on",
			"node off",
			"bun on",
			"bun off",
		]);
	});

	test("the rendered report has the table and names the setting", () => {
		const rendered = renderReport(sources);
		expect(rendered.tables.map((t) => t.title)).toContain("Cost of metrics");
		expect(markdownReport(sources, rendered.tables, [])).toContain("- Metrics (METRICS): on, off");
		expect(rendered.charts[0]?.svg).toContain("node metrics=off");
	});

	test("results.json keeps the setting per cell and process", () => {
		const parsed = parseResults(JSON.stringify(results));
		expect(new Set(parsed.cells.map((c) => c.metrics))).toEqual(new Set(["on", "off"]));
		expect(parsed.processes.map((p) => p.metrics)).toContain("off");
	});
});

test("a run from before --metrics: no metrics column, no cost table", () => {
	const sources = labelSources([readResults(join(FIXTURES, "results.json"))]);
	const { rows, metricsPairs } = derive(sources);
	expect(rows.every((r) => r.metrics === null)).toBe(true);
	expect(latencyTable(rows, sources, "runtime").headers).not.toContain("metrics");
	expect(metricsPairs).toEqual([]);
	expect(metricsCostTable(rows, metricsPairs, sources)).toBeNull();
});

describe.skipIf(!hasServer)("end-to-end with the real server", () => {
	test(
		"bun with METRICS=on and off, two rounds: cells of both, the cost table printed",
		async () => {
			const out = tempDir("e2e-metrics");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"bun",
				"--models",
				"gbdt-ts,floor",
				"--metrics",
				"on,off",
				"--requests",
				"30",
				"--warmup",
				"5",
				"--rounds",
				"2",
				"--loadgen",
				"builtin",
				"--out",
				out,
			]);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			expect(result.stdout).toContain("Cost of metrics");
			const results = readResults(join(out, "results.json"));
			expect(results.options.metrics).toEqual(["on", "off"]);
			expect(results.processes.map((p) => `${p.round}:${p.metrics}`)).toEqual([
				"1:on",
				"1:off",
				"2:off",
				"2:on",
			]);
			for (const cell of results.cells) {
				expect(cell.stats.statusCodes).toEqual({ "200": 30 });
				expect(cell.rawFile.includes("-metrics-off-")).toBe(cell.metrics === "off");
			}
			expect(readFileSync(join(out, "report.md"), "utf8")).toContain("### Cost of metrics");
		},
		{ timeout: 60_000 },
	);
});
