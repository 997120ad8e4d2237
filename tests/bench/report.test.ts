import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { markdownTable } from "../../bench/report/markdown.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources, medianRows } from "../../bench/report/select.ts";
import { latencyChart, throughputChart } from "../../bench/report/svg.ts";
import { concurrencyTable, latencyTable, startupTable } from "../../bench/report/tables.ts";
import { terminalTable } from "../../bench/report/terminal.ts";
import { type Results, readResults } from "../../bench/results.ts";
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

describe("median round", () => {
	test("each row is the round with the median p50", () => {
		const rows = medianRows(labelSources([load()]));
		expect(rows).toHaveLength(8);
		// Rounds' p50s are 1.2x, 0.9x and 1.0x the base: the median is round 3.
		expect(rows.every((r) => r.cell.round === 3 && r.rounds === 3)).toBe(true);
	});

	test("with two rounds, the lower middle one", () => {
		const results = load();
		results.cells = results.cells.filter((c) => c.round !== 3);
		const rows = medianRows(labelSources([results]));
		expect(rows.every((r) => r.cell.round === 2)).toBe(true);
	});
});

describe("tables", () => {
	const sources = labelSources([load()]);
	const rows = medianRows(sources);

	test("by runtime: hand-checked row for node mlp-onnx", () => {
		const table = latencyTable(rows, sources, "runtime");
		expect(table.headers.slice(0, 12)).toEqual([
			"runtime",
			"model",
			"Avg ms",
			"Min ms",
			"Max ms",
			"Total ms",
			"Variance ms²",
			"p50 ms",
			"p99 ms",
			"req/s",
			"p50 over floor ms",
			"infer p50 ms",
		]);
		expect(table.rows.map((r) => `${r[0]}/${r[1]}`)).toEqual([
			"node/mlp-onnx",
			"node/floor",
			"bun/mlp-onnx",
			"bun/floor",
		]);
		expect(table.rows[0]).toEqual([
			"node",
			"mlp-onnx",
			"0.440",
			"0.240",
			"3.600",
			"440.0",
			"0.00800",
			"0.400",
			"0.800",
			"2250",
			"0.300",
			"0.0500",
		]);
		expect(table.rows[1]?.slice(-2)).toEqual(["-", "-"]);
		expect(table.notes.join(" ")).toContain("median round (by p50) of 3 rounds");
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
		const table = latencyTable(medianRows(mixedSources), mixedSources, "runtime");
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
		const table = latencyTable(medianRows(s), s, "runtime");
		expect(table.headers.at(-1)).toBe("problems");
		expect(table.rows[1]?.at(-1)).toBe("3 errors, 7x503");
		expect(table.rows[0]?.at(-1)).toBe("");
	});

	test("concurrency sweep and startup tables", () => {
		const sweep = concurrencyTable(rows, sources);
		expect(sweep?.rows[0]).toEqual(["node", "mlp-onnx", "1", "0.400", "0.800", "2250"]);
		expect(sweep?.rows[1]).toEqual(["node", "mlp-onnx", "8", "1.600", "3.200", "4500"]);
		const single = load();
		single.cells = single.cells.filter((c) => c.concurrency === 1);
		const singleSources = labelSources([single]);
		expect(concurrencyTable(medianRows(singleSources), singleSources)).toBeNull();
		const startup = startupTable(sources);
		expect(startup.rows[0]).toEqual(["node", "3", "620", "148.5", "1002", "20", "3/3"]);
		expect(startup.rows[1]?.[0]).toBe("bun");
	});

	test("merged results get a machine column and stay apart", () => {
		const merged = labelSources([load(), load()]);
		expect(merged.map((s) => s.label)).toEqual(["fixture-host #1", "fixture-host #2"]);
		const table = latencyTable(medianRows(merged), merged, "runtime");
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
			"| node | mlp-onnx | 0.440 | 0.240 | 3.600 | 440.0 | 0.00800 | 0.400 | 0.800 | 2250 | 0.300 | 0.0500 |",
		);
		const text = terminalTable(table).split("\n");
		expect(text[0]).toBe("By runtime");
		expect(text[3]).toMatch(/^node\s+mlp-onnx\s+0\.440\s+0\.240\s+3\.600/);
		// Columns line up: every data row as long as the header rule.
		expect(new Set(text.slice(2, 6).map((l) => l.length)).size).toBe(1);
	});
});

describe("charts", () => {
	const sources = labelSources([load()]);
	const rows = medianRows(sources);

	test("latency: standalone SVG with a bar and whisker per runtime and model, and a legend", () => {
		const svg = latencyChart(rows, sources);
		expect(svg).toStartWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ');
		assertWellFormed(svg);
		expect(svg.match(/<rect /g)).toHaveLength(5);
		expect(svg).toContain("node mlp-onnx: p50 0.400 ms, p99 0.800 ms");
		expect(svg).toContain(">node</text>");
		expect(svg).toContain(">bun</text>");
		expect(svg).toContain(">floor (/health)</text>");
		expect(svg).toContain(">latency (ms)</text>");
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
		const svg = latencyChart(medianRows(s), s);
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
