import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { derive } from "../../bench/report/derive.ts";
import { markdownTable } from "../../bench/report/markdown.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { latencyChart, throughputChart } from "../../bench/report/svg.ts";
import { concurrencyTable, latencyTable, startupTable } from "../../bench/report/tables.ts";
import { terminalTable } from "../../bench/report/terminal.ts";
import { type Cell, type Results, readResults } from "../../bench/results.ts";
import { FIXTURES, runCli, tempDir } from "./helpers.ts";

const load = (): Results => readResults(join(FIXTURES, "results.json"));

/** Tags balance and nest: enough to catch a chart that no viewer would open. */
function assertWellFormed(svg: string): void {
	const stack: string[] = [];
	for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
		const [, closing, name, selfClosing] = match;
		if (selfClosing) continue;
		if (closing) expect(stack.pop()).toBe(name as string);
		else stack.push(name as string);
	}
	expect(stack).toEqual([]);
	expect(svg).not.toMatch(/&(?!(lt|gt|amp|quot|apos);)/);
}

const rowsOf = (...results: Results[]) => derive(labelSources(results)).rows;

type RoundStats = Pick<
	Cell["stats"],
	"avgMs" | "minMs" | "maxMs" | "totalMs" | "varianceMs2" | "p50Ms" | "p99Ms" | "rps"
>;

/**
 * Hand-made rounds for node mlp-onnx at c=1, chosen so each statistic's median comes from a
 * different round than the median p50 (round 3): quoting round 3 whole would show 14100 req/s.
 */
const ROUNDS: (RoundStats & { inferMs: number; floorP50Ms: number })[] = [
	{
		avgMs: 0.3,
		minMs: 0.1,
		maxMs: 2,
		totalMs: 300,
		varianceMs2: 0.03,
		p50Ms: 0.25,
		p99Ms: 0.9,
		rps: 6640,
		inferMs: 0.02,
		floorP50Ms: 0.05,
	},
	{
		avgMs: 0.1,
		minMs: 0.08,
		maxMs: 5,
		totalMs: 100,
		varianceMs2: 0.01,
		p50Ms: 0.09,
		p99Ms: 0.5,
		rps: 10_900,
		inferMs: 0.01,
		floorP50Ms: 0.07,
	},
	{
		avgMs: 0.2,
		minMs: 0.05,
		maxMs: 1,
		totalMs: 200,
		varianceMs2: 0.02,
		p50Ms: 0.15,
		p99Ms: 1.5,
		rps: 14_100,
		inferMs: 0.03,
		floorP50Ms: 0.06,
	},
];

/** The fixture with node's c=1 cells replaced by ROUNDS (and only concurrency 1 kept). */
function handMade(): Results {
	const results = load();
	results.cells = results.cells.filter((c) => c.concurrency === 1);
	for (const cell of results.cells) {
		if (cell.runtime !== "node") continue;
		const round = ROUNDS[cell.round - 1];
		if (!round) throw new Error(`no hand-made round ${cell.round}`);
		const { inferMs, floorP50Ms, ...stats } = round;
		if (cell.model === "floor") cell.stats = { ...cell.stats, p50Ms: floorP50Ms };
		else {
			cell.stats = { ...cell.stats, ...stats };
			cell.infer = { ...cell.infer, medianMs: inferMs };
		}
	}
	return results;
}

const nodeModel = (rows: ReturnType<typeof rowsOf>) =>
	rows.find((r) => r.runtime === "node" && r.model === "mlp-onnx");

describe("row derivation: each statistic over the rounds", () => {
	test("three rounds: medians, extremes for Min and Max, ranges for p50 and req/s", () => {
		expect(nodeModel(rowsOf(handMade()))).toMatchObject({
			rounds: 3,
			requests: 1000,
			avgMs: 0.2,
			minMs: 0.05,
			maxMs: 5,
			totalMs: 200,
			varianceMs2: 0.02,
			p50Ms: 0.15,
			p99Ms: 0.9,
			rps: 10_900,
			inferMs: 0.02,
			p50Range: { min: 0.09, max: 0.25 },
			rpsRange: { min: 6640, max: 14_100 },
			errors: 0,
			non2xx: [],
		});
	});

	test("p50 over floor is the difference of the two rows' median p50s", () => {
		const row = nodeModel(rowsOf(handMade()));
		// 0.15 - median(0.05, 0.07, 0.06)
		expect(row?.p50OverFloorMs).toBeCloseTo(0.09, 12);
		const floor = rowsOf(handMade()).find((r) => r.runtime === "node" && r.model === "floor");
		expect(floor?.p50OverFloorMs).toBeNull();
	});

	test("two rounds: the mean of the two", () => {
		const results = handMade();
		results.cells = results.cells.filter((c) => c.round !== 3);
		const row = nodeModel(rowsOf(results));
		expect(row?.rounds).toBe(2);
		expect(row?.avgMs).toBeCloseTo(0.2, 12);
		expect(row?.p50Ms).toBeCloseTo(0.17, 12);
		expect(row?.rps).toBe(8770);
		expect(row?.minMs).toBe(0.08);
		expect(row?.maxMs).toBe(5);
	});

	test("errors and non-2xx responses are summed over the rounds", () => {
		const results = handMade();
		for (const cell of results.cells) {
			if (cell.runtime !== "node" || cell.model !== "mlp-onnx") continue;
			if (cell.round === 2)
				cell.stats = { ...cell.stats, errors: 2, statusCodes: { "200": 997, "503": 1 } };
			if (cell.round === 3)
				cell.stats = { ...cell.stats, statusCodes: { "200": 997, "503": 2, "404": 1 } };
		}
		expect(nodeModel(rowsOf(results))).toMatchObject({
			errors: 2,
			non2xx: [
				["503", 3],
				["404", 1],
			],
		});
	});

	test("the table quotes the derived row, with the rounds' ranges and a note saying so", () => {
		const results = handMade();
		const sources = labelSources([results]);
		const table = latencyTable(derive(sources).rows, sources, "runtime");
		expect(table.headers).toContain("p50 range ms");
		expect(table.rows[0]).toEqual([
			"node",
			"mlp-onnx",
			"0.200",
			"0.050",
			"5.000",
			"200.0",
			"0.0200",
			"0.150",
			"0.090–0.250",
			"0.900",
			"10900",
			"6640–14100",
			"0.090",
			"0.0200",
			"-",
		]);
		const notes = table.notes.join(" ");
		expect(notes).toContain("every column is the median of the rounds' values");
		expect(notes).toContain("Min and Max, the fastest and slowest request of all rounds");
	});

	test("one round: no ranges and no rounds note", () => {
		const results = handMade();
		results.cells = results.cells.filter((c) => c.round === 1);
		const sources = labelSources([results]);
		const table = latencyTable(derive(sources).rows, sources, "runtime");
		expect(table.headers).not.toContain("p50 range ms");
		expect(table.headers).not.toContain("req/s range");
		expect(table.rows[0]?.slice(2, 11)).toEqual([
			"0.300",
			"0.100",
			"2.000",
			"300.0",
			"0.0300",
			"0.250",
			"0.900",
			"6640",
			"0.200",
		]);
		expect(table.notes.join(" ")).not.toContain("rounds");
	});
});

describe("tables", () => {
	const sources = labelSources([load()]);
	const { rows, servers } = derive(sources);

	test("by runtime: hand-checked row for node mlp-onnx", () => {
		const table = latencyTable(rows, sources, "runtime");
		expect(table.headers).toEqual([
			"runtime",
			"model",
			"Avg ms",
			"Min ms",
			"Max ms",
			"Total ms",
			"Variance ms²",
			"p50 ms",
			"p50 range ms",
			"p99 ms",
			"req/s",
			"req/s range",
			"p50 over floor ms",
			"infer p50 ms",
			"gen CPU %",
		]);
		expect(table.rows.map((r) => `${r[0]}/${r[1]}`)).toEqual([
			"node/mlp-onnx",
			"node/floor",
			"bun/mlp-onnx",
			"bun/floor",
		]);
		// The fixture's rounds are 1.2x, 0.9x and 1.0x the base: medians are round 3's; Min is
		// round 2's and Max round 1's.
		expect(table.rows[0]).toEqual([
			"node",
			"mlp-onnx",
			"0.440",
			"0.216",
			"4.320",
			"440.0",
			"0.00800",
			"0.400",
			"0.360–0.480",
			"0.800",
			"2250",
			"1875–2500",
			"0.300",
			"0.0500",
			"-",
		]);
		// floor: no "over floor", no infer, and no generator CPU in this older file.
		expect(table.rows[1]?.slice(-3)).toEqual(["-", "-", "-"]);
		expect(table.notes.join(" ")).toContain("Each row summarises its 3 rounds");
		expect(table.notes.join(" ")).not.toContain("mixes load generators");
	});

	test("by model groups the runtimes under each model", () => {
		const table = latencyTable(rows, sources, "model");
		expect(table.rows.map((r) => `${r[0]}/${r[1]}`)).toEqual([
			"mlp-onnx/node",
			"mlp-onnx/bun",
			"floor/node",
			"floor/bun",
		]);
		expect(table.rows[1]?.[7]).toBe("0.300");
	});

	test("a table that mixes generators says so", () => {
		const results = load();
		for (const cell of results.cells)
			if (cell.runtime === "bun") cell.generator = { name: "oha", version: "1.15.0" };
		const mixedSources = labelSources([results]);
		const table = latencyTable(derive(mixedSources).rows, mixedSources, "runtime");
		expect(table.notes.join(" ")).toContain(
			"mixes load generators: builtin 0.1.0 (node 24.21.0); oha 1.15.0",
		);
		expect(table.headers.at(-1)).toBe("generator");
		expect(table.rows[2]?.at(-1)).toBe("oha 1.15.0");
	});

	test("failures show up in a problems column", () => {
		const results = load();
		for (const cell of results.cells) {
			if (cell.runtime === "node" && cell.model === "floor") {
				cell.stats = { ...cell.stats, errors: 3, statusCodes: { "200": 990, "503": 7 } };
			}
		}
		const s = labelSources([results]);
		const table = latencyTable(derive(s).rows, s, "runtime");
		expect(table.headers.at(-1)).toBe("problems");
		// Summed over the three rounds.
		expect(table.rows[1]?.at(-1)).toBe("9 errors, 21x503");
		expect(table.rows[0]?.at(-1)).toBe("");
	});

	test("concurrency sweep and startup tables", () => {
		const sweep = concurrencyTable(rows, sources);
		expect(sweep?.rows[0]).toEqual([
			"node",
			"mlp-onnx",
			"1",
			"0.400",
			"0.800",
			"2250",
			"1875–2500",
			"-",
		]);
		expect(sweep?.rows[1]).toEqual([
			"node",
			"mlp-onnx",
			"8",
			"1.600",
			"3.200",
			"4500",
			"3750–5000",
			"-",
		]);
		const single = load();
		single.cells = single.cells.filter((c) => c.concurrency === 1);
		const singleSources = labelSources([single]);
		expect(concurrencyTable(derive(singleSources).rows, singleSources)).toBeNull();
		const startup = startupTable(servers, sources);
		expect(startup.rows[0]).toEqual(["node", "3", "620", "148.5", "1002", "20", "3/3"]);
		expect(startup.rows[1]?.[0]).toBe("bun");
	});

	test("startup: medians over the servers, the mean of the middle two for an even count", () => {
		const results = load();
		results.processes = results.processes.filter((p) => p.round !== 3);
		const two = labelSources([results]);
		// node: spawn (610 + 620) / 2, RSS (151024 + 152048) / 2 KiB, CPU (1001 + 1002) / 2.
		expect(startupTable(derive(two).servers, two).rows[0]).toEqual([
			"node",
			"2",
			"615",
			"148.0",
			"1002",
			"20",
			"2/2",
		]);
	});

	test("merged results get a machine column and stay apart", () => {
		const merged = labelSources([load(), load()]);
		expect(merged.map((s) => s.label)).toEqual(["fixture-host #1", "fixture-host #2"]);
		const table = latencyTable(derive(merged).rows, merged, "runtime");
		expect(table.headers[0]).toBe("machine");
		expect(table.rows).toHaveLength(8);
		expect(table.rows.slice(0, 2).map((r) => r[0])).toEqual(["fixture-host #1", "fixture-host #2"]);
	});

	test("markdown and terminal renderings", () => {
		const table = latencyTable(rows, sources, "runtime");
		const md = markdownTable(table).split("\n");
		expect(md[0]).toBe("### By runtime");
		expect(md[2]).toStartWith("| runtime | model | Avg ms |");
		expect(md[3]).toStartWith("| --- | --- | ---: |");
		expect(md[4]).toBe(
			"| node | mlp-onnx | 0.440 | 0.216 | 4.320 | 440.0 | 0.00800 | 0.400 | 0.360–0.480 | 0.800 | 2250 | 1875–2500 | 0.300 | 0.0500 | - |",
		);
		const text = terminalTable(table).split("\n");
		expect(text[0]).toBe("By runtime");
		expect(text[3]).toMatch(
			/^node\s+mlp-onnx\s+0\.440\s+0\.216\s+4\.320\s+440\.0\s+0\.00800\s+0\.400\s+0\.360–0\.480/,
		);
		// Columns line up: every data row as long as the header rule.
		expect(new Set(text.slice(2, 6).map((l) => l.length)).size).toBe(1);
	});

	test("the startup table prints like the others", () => {
		const text = terminalTable(startupTable(servers, sources)).split("\n");
		expect(text[0]).toBe("Startup and memory");
		expect(text[1]).toMatch(/^runtime\s+servers\s+spawn to ready ms\s+peak RSS MiB/);
		expect(text[3]).toMatch(/^node\s+3\s+620\s+148\.5\s+1002\s+20\s+3\/3$/);
		expect(text[4]).toMatch(/^bun\s+3\s+470\s+/);
	});

	test("every table of the report is printed, startup last", () => {
		expect(renderReport(sources).tables.map((t) => t.title)).toEqual([
			"By runtime",
			"By model",
			"Concurrency sweep",
			"Startup and memory",
		]);
	});
});

describe("charts", () => {
	const sources = labelSources([load()]);
	const { rows } = derive(sources);

	test("latency: standalone SVG with a p50 dot and p99 ring per runtime, model and level", () => {
		const svg = latencyChart(rows, sources);
		expect(svg).toStartWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ');
		assertWellFormed(svg);
		// 2 runtimes x 2 models x 2 levels, 2 circles each, and the key's 2 (more in svg.test.ts).
		expect(svg.match(/<circle /g)).toHaveLength(18);
		expect(svg).toContain("node mlp-onnx: p50 0.400 ms, p99 0.800 ms");
		expect(svg).toContain(">node</text>");
		expect(svg).toContain(">bun</text>");
		expect(svg).toContain(">floor (/health)</text>");
		expect(svg).toContain(">latency (ms, log scale)</text>");
	});

	test("throughput: a panel per model, a line per runtime over the concurrency levels", () => {
		const svg = throughputChart(rows, sources) ?? "";
		assertWellFormed(svg);
		expect(svg.match(/<polyline /g)).toHaveLength(4);
		expect(svg.match(/font-weight="bold">(mlp-onnx|floor \(\/health\))<\/text>/g)).toHaveLength(2);
		expect(svg).toContain(">node</text>");
		expect(svg).toContain(">bun</text>");
		expect(svg.match(/>8<\/text>/g)).toHaveLength(2);
	});

	test("names are escaped", () => {
		const results = load();
		results.environment.host = 'a<b>&"c';
		const s = labelSources([results, load()]);
		const svg = latencyChart(derive(s).rows, s);
		assertWellFormed(svg);
		expect(svg).toContain("a&lt;b&gt;&amp;&quot;c");
	});

	test("the report links the charts it writes", () => {
		const rendered = renderReport(sources);
		expect(rendered.charts.map((c) => c.file)).toEqual(["latency.svg", "throughput.svg"]);
		expect(rendered.markdown).toContain("![Latency by runtime and model](latency.svg)");
		expect(rendered.markdown).toContain("- Load generator: builtin 0.1.0 (node 24.21.0)");
		expect(rendered.markdown).toContain("- Pinned: no (not requested)");
		expect(rendered.markdown).toContain("- onnxruntime-node: 1.30.0");
		expect(rendered.markdown).toContain("### Concurrency sweep");
		expect(rendered.markdown).toContain("### Startup and memory");
	});
});

describe("bench:report CLI", () => {
	test("re-renders one folder in place", async () => {
		const dir = tempDir("report");
		copyFileSync(join(FIXTURES, "results.json"), join(dir, "results.json"));
		const result = await runCli("bench/report.ts", [dir]);
		expect(result.stderr).toContain("wrote");
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("By runtime");
		expect(result.stdout).toContain("By model");
		expect(result.stdout).toContain("Startup and memory");
		expect(result.stdout).toMatch(/^node\s+3\s+620\s+148\.5\s+1002\s+20\s+3\/3$/m);
		for (const file of ["report.md", "latency.svg", "throughput.svg"])
			expect(existsSync(join(dir, file))).toBe(true);
	});

	test("merges several into one comparison", async () => {
		const out = tempDir("merged");
		const result = await runCli("bench/report.ts", [
			"--out",
			out,
			FIXTURES,
			join(FIXTURES, "results.json"),
		]);
		expect(result.code).toBe(0);
		const md = readFileSync(join(out, "report.md"), "utf8");
		expect(md).toStartWith("# Runtime benchmark comparison");
		expect(md).toContain("| fixture-host #2 | node | mlp-onnx |");
	});

	test("a bad folder is a one-line error", async () => {
		const result = await runCli("bench/report.ts", [tempDir("empty")]);
		expect(result.code).toBe(1);
		expect(result.stderr.trim().split("\n")).toHaveLength(1);
		expect(result.stderr).toContain("cannot read");
	});
});
