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
		[
			["--metrics", "on,off", "--concurrency", "1,8"],
			"--metrics on,off measures paired requests one at a time: it takes no --concurrency but 1",
		],
		[
			["--metrics", "off,on", "--concurrency", "4"],
			"--metrics on,off measures paired requests one at a time: it takes no --concurrency but 1",
		],
		[
			["--metrics", "on,off", "--port", "8080"],
			"--metrics on,off runs two servers at once: it cannot take --port",
		],
	] as const) {
		test(`rejects ${argv.join(" ")}`, () => {
			expect(() => parseOptions(argv)).toThrow(UsageError);
			expect(() => parseOptions(argv)).toThrow(message);
		});
	}

	test("on,off: per round and runtime one pair of servers started together, A turning every round", () => {
		const plan = buildPlan({
			runtimes: ["node", "bun"],
			models: ["mlp-ts"],
			concurrency: [1],
			rounds: 3,
			metrics: ["on", "off"],
		});
		expect(plan.map((s) => `${s.round}:${s.runtime}-${s.metrics.join(",")}`)).toEqual([
			"1:node-on,off",
			"1:bun-on,off",
			"2:node-off,on",
			"2:bun-off,on",
			"3:node-on,off",
			"3:bun-on,off",
		]);
		expect(plan.every((s) => s.cells.length === 1)).toBe(true);
	});

	test("one value: one server each", () => {
		const plan = buildPlan({
			runtimes: ["node"],
			models: ["mlp-ts"],
			concurrency: [1],
			rounds: 2,
			metrics: ["off"],
		});
		expect(plan.map((s) => s.metrics)).toEqual([["off"], ["off"]]);
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
 * a copy of it with METRICS=off whose p50s are lower by `offsetsMs[round - 1]`; concurrency 1
 * only, as a paired run measures. With `pairs`, the paired figures of a paired run.
 */
function onAndOff(offsetsMs: readonly number[], pairs?: Results["pairs"]): Results {
	const base = readResults(join(FIXTURES, "results.json"));
	const cells = base.cells.filter((c) => c.concurrency === 1);
	const on = cells.map((c) => ({ ...c, metrics: "on" as const }));
	const off = cells.map((c) => ({
		...c,
		metrics: "off" as const,
		stats: { ...c.stats, p50Ms: (c.stats.p50Ms ?? 0) - (offsetsMs[c.round - 1] ?? 0) },
	}));
	return {
		...base,
		options: { ...base.options, concurrency: [1], metrics: ["on", "off"] },
		cells: [...on, ...off],
		processes: [
			...base.processes.map((p) => ({ ...p, metrics: "on" as const })),
			...base.processes.map((p) => ({ ...p, metrics: "off" as const })),
		],
		...(pairs ? { pairs } : {}),
	};
}

/** Per runtime and model, the per-round paired medians (ms) of a hand-made paired run. */
const PAIRED: Record<string, Record<string, number[]>> = {
	node: { "mlp-onnx": [0.004, 0.001, 0.002], floor: [0.0005, 0.0015, 0.001] },
	bun: { "mlp-onnx": [-0.001, 0.003, 0], floor: [0.002, 0.002, 0.006] },
};

function pairedFixture(): NonNullable<Results["pairs"]> {
	return Object.entries(PAIRED).flatMap(([runtime, models]) =>
		Object.entries(models).flatMap(([model, medians]) =>
			medians.map((medianDiffMs, i) => ({
				runtime: runtime as "node" | "bun",
				workers: 1,
				model,
				concurrency: 1,
				round: i + 1,
				first: i % 2 === 0 ? ("on" as const) : ("off" as const),
				pairs: 1000,
				medianDiffMs,
				p25DiffMs: medianDiffMs - 0.01,
				p75DiffMs: medianDiffMs + 0.01,
				// Balanced: the mean of these two, 1 µs above the pooled median.
				onFirstMedianDiffMs: medianDiffMs - 0.02,
				offFirstMedianDiffMs: medianDiffMs + 0.022,
			})),
		),
	);
}

describe("the report of a paired on,off run", () => {
	const results = onAndOff([0.001, 0.003, 0.01], pairedFixture());
	const sources = labelSources([results]);
	const { rows, servers, metricsCost, metricsSummary } = derive(sources);

	test("rows stay apart by METRICS, each against its own floor", () => {
		const node = rows.filter((r) => r.runtime === "node" && r.model === "mlp-onnx");
		expect(node.map((r) => r.metrics)).toEqual(["on", "off"]);
		const floors = rows.filter((r) => r.runtime === "node" && r.model === "floor");
		expect(floors.map((r) => r.metrics)).toEqual(["on", "off"]);
		for (const metrics of ["on", "off"] as const) {
			const row = node.find((r) => r.metrics === metrics);
			const floor = floors.find((r) => r.metrics === metrics);
			expect(row?.p50OverFloorMs).toBeCloseTo((row?.p50Ms ?? 0) - (floor?.p50Ms ?? 0), 12);
		}
	});

	test("per cell: both p50s, their difference, the rounds' paired medians and their median", () => {
		expect(metricsCost).toHaveLength(4); // 2 runtimes x 2 models
		const cost = metricsCost.find((c) => c.runtime === "node" && c.model === "mlp-onnx");
		const on = rows.find(
			(r) => r.runtime === "node" && r.model === "mlp-onnx" && r.metrics === "on",
		);
		const off = rows.find(
			(r) => r.runtime === "node" && r.model === "mlp-onnx" && r.metrics === "off",
		);
		expect(cost).toEqual({
			machine: sources[0]?.label as string,
			runtime: "node",
			workers: 1,
			model: "mlp-onnx",
			concurrency: 1,
			p50OnMs: on?.p50Ms ?? null,
			p50OffMs: off?.p50Ms ?? null,
			p50DiffMs: (on?.p50Ms ?? 0) - (off?.p50Ms ?? 0),
			roundPairedMs: [0.004, 0.001, 0.002],
			pairedMs: 0.002,
			pairedRange: { min: 0.001, max: 0.004 },
			roundBalancedMs: [
				expect.closeTo(0.005, 12),
				expect.closeTo(0.002, 12),
				expect.closeTo(0.003, 12),
			],
			balancedMs: expect.closeTo(0.003, 12),
			balancedRange: { min: expect.closeTo(0.002, 12), max: expect.closeTo(0.005, 12) },
			pairs: 3000,
		});
		const paired = Object.fromEntries(
			metricsCost.map((c) => [`${c.runtime} ${c.model}`, c.pairedMs]),
		);
		expect(paired).toEqual({
			"node mlp-onnx": 0.002,
			"node floor": 0.001,
			"bun mlp-onnx": 0,
			"bun floor": 0.002,
		});
	});

	test("per runtime: the median over its cells of their paired medians", () => {
		expect(
			metricsSummary.map((s) => [s.runtime, s.cells, s.pairedMs, s.pairs, s.concurrency]),
		).toEqual([
			["node", 2, (0.002 + 0.001) / 2, 6000, 1],
			["bun", 2, 0.001, 6000, 1],
		]);
		expect(metricsSummary.map((s) => s.balancedMs)).toEqual([
			expect.closeTo(0.0025, 12),
			expect.closeTo(0.002, 12),
		]);
	});

	test("the cost table: p50 on and off, on − off, paired per cell and round range, all cells", () => {
		const table = metricsCostTable(metricsCost, metricsSummary, sources);
		expect(table?.headers).toEqual([
			"runtime",
			"model",
			"p50 on ms",
			"p50 off ms",
			"on − off µs",
			"paired µs",
			"paired range µs",
			"balanced µs",
			"balanced range µs",
			"pairs",
		]);
		expect(table?.rows.map((r) => [r[0], r[1], ...r.slice(5)])).toEqual([
			["node", "mlp-onnx", "2.0", "1.0–4.0", "3.0", "2.0–5.0", "3000"],
			["node", "floor", "1.0", "0.5–1.5", "2.0", "1.5–2.5", "3000"],
			["node", "all", "1.5", "-", "2.5", "-", "6000"],
			["bun", "mlp-onnx", "0.0", "-1.0–3.0", "1.0", "0.0–4.0", "3000"],
			["bun", "floor", "2.0", "2.0–6.0", "3.0", "3.0–7.0", "3000"],
			["bun", "all", "1.0", "-", "2.0", "-", "6000"],
		]);
		for (const line of table?.rows.filter((r) => r[1] !== "all") ?? []) {
			const [on, off] = ["on", "off"].map(
				(m) =>
					rows.find((r) => r.runtime === line[0] && r.model === line[1] && r.metrics === m)
						?.p50Ms ?? Number.NaN,
			) as [number, number];
			expect(line.slice(2, 5)).toEqual([
				on.toFixed(3),
				off.toFixed(3),
				((on - off) * 1000).toFixed(1),
			]);
		}
		for (const line of table?.rows.filter((r) => r[1] === "all") ?? []) {
			expect(line.slice(2, 5)).toEqual(["-", "-", "10.0"]);
		}
		expect(table?.notes[0]).toContain("alternated requests between them");
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
		const cost = rendered.tables.find((t) => t.title === "Cost of metrics");
		expect(cost?.rows.map((r) => r[5])).toEqual(["2.0", "1.0", "1.5", "0.0", "2.0", "1.0"]);
		const markdown = markdownReport(sources, rendered.tables, []);
		expect(markdown).toContain("- Metrics (METRICS): on, off");
		expect(markdown).toContain("| node | all | - | - | 10.0 | 1.5 | - | 2.5 | - | 6000 |");
		expect(rendered.charts[0]?.svg).toContain("node metrics=off");
	});

	test("results.json keeps the setting per cell and process, and the pairs", () => {
		const parsed = parseResults(JSON.stringify(results));
		expect(new Set(parsed.cells.map((c) => c.metrics))).toEqual(new Set(["on", "off"]));
		expect(parsed.processes.map((p) => p.metrics)).toContain("off");
		expect(parsed.pairs).toEqual(pairedFixture());
	});
});

test("an on,off run from before paired runs: the p50s and their difference, no paired figure", () => {
	const sources = labelSources([onAndOff([0.001, 0.003, 0.01])]);
	const { metricsCost, metricsSummary } = derive(sources);
	expect(metricsCost.every((c) => c.pairedMs === null && c.pairs === 0)).toBe(true);
	const table = metricsCostTable(metricsCost, metricsSummary, sources);
	expect(table?.headers).toEqual(["runtime", "model", "p50 on ms", "p50 off ms", "on − off µs"]);
	expect(table?.rows.map((r) => `${r[0]} ${r[1]}`)).toEqual([
		"node mlp-onnx",
		"node floor",
		"bun mlp-onnx",
		"bun floor",
	]);
	expect(table?.notes[0]).toContain("no paired figure");
});

test("a run from before --metrics: no metrics column, no cost table", () => {
	const sources = labelSources([readResults(join(FIXTURES, "results.json"))]);
	const { rows, metricsCost, metricsSummary } = derive(sources);
	expect(rows.every((r) => r.metrics === null)).toBe(true);
	expect(latencyTable(rows, sources, "runtime").headers).not.toContain("metrics");
	expect(metricsCost).toEqual([]);
	expect(metricsCostTable(metricsCost, metricsSummary, sources)).toBeNull();
});

describe.skipIf(!hasServer)("end-to-end with the real server", () => {
	test(
		"bun with METRICS=on and off, two rounds: both servers paired, the cost table printed",
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
			expect(result.stdout).toContain("paired µs");
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
			expect(results.pairs?.map((p) => p.pairs)).toEqual([30, 30, 30, 30]);
			expect(readFileSync(join(out, "report.md"), "utf8")).toContain("### Cost of metrics");
		},
		{ timeout: 60_000 },
	);
});
