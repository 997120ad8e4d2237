import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import { parseCpuFile, runMeasured } from "../../bench/loadgen/cpu.ts";
import { selectGenerator } from "../../bench/loadgen/select.ts";
import { cpuPercent } from "../../bench/loadgen/types.ts";
import { derive } from "../../bench/report/derive.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { concurrencyTable, latencyTable } from "../../bench/report/tables.ts";
import { readResults } from "../../bench/results.ts";
import { FIXTURES, ROOT, tempDir } from "./helpers.ts";

const NODE = join(ROOT, "node_modules", ".bin", "node");

describe("the wrapper's report", () => {
	test("reads bash's `times` (children's line) and the EPOCHREALTIME pair", () => {
		const text = "wall 1795706740.657910 1795706741.000000\n0m0.002s 0m0.000s\n0m0.123s 0m0.045s\n";
		const parsed = parseCpuFile(text);
		expect(parsed?.cpuMs).toBeCloseTo(168, 6);
		expect(parsed?.wallMs).toBeCloseTo(342.09, 3);
		// A locale with a decimal comma; a bash without EPOCHREALTIME leaves the wall empty.
		expect(parseCpuFile("wall  \n0m0,002s 0m0,000s\n1m0,500s 0m0,250s\n")).toEqual({
			cpuMs: 60_750,
			wallMs: null,
		});
		expect(parseCpuFile("garbage")).toBeNull();
	});
});

describe("generator CPU, measured", () => {
	test("a process that burns CPU reports a far higher share of a core than one that sleeps", async () => {
		// The busy loop runs until it has used 300 ms of CPU, however fast the machine is.
		const busy = await runMeasured(NODE, [
			"-e",
			"while ((u => u.user + u.system)(process.cpuUsage()) < 300000) {}",
		]);
		const idle = await runMeasured("sleep", ["0.3"]);
		expect(busy.code).toBe(0);
		expect(idle.code).toBe(0);
		expect(busy.cpu?.cpuMs).toBeGreaterThanOrEqual(300);
		expect(idle.cpu?.wallMs).toBeGreaterThanOrEqual(250);
		const busyPct = cpuPercent(busy.cpu) as number;
		const idlePct = cpuPercent(idle.cpu) as number;
		// Relative, not against a fixed share: on a loaded machine the busy loop gets less than a
		// core, but always far more than a process that only sleeps.
		expect(idlePct).toBeLessThan(50);
		expect(busyPct - idlePct).toBeGreaterThan(20);
	});

	test("the exit status and output pass through the wrapper", async () => {
		const result = await runMeasured("sh", ["-c", "echo out; echo err >&2; exit 3"]);
		expect(result.code).toBe(3);
		expect(result.stdout).toBe("out\n");
		expect(result.stderr).toBe("err\n");
		expect(result.cpu).not.toBeNull();
	});

	test("the built-in generator reports its own CPU over its measured phase", async () => {
		const server = createServer((_req, res) => res.end("ok"));
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		try {
			const { port } = server.address() as AddressInfo;
			const generator = await BuiltinGenerator.create(NODE, "test");
			const result = await generator.run({
				url: `http://127.0.0.1:${port}/`,
				method: "GET",
				requests: 200,
				concurrency: 2,
				warmup: 20,
			});
			expect(result.samples.length).toBe(200);
			expect(result.cpu?.cpuMs).toBeGreaterThan(0);
			expect(result.cpu?.wallMs).toBeCloseTo(result.wallUs / 1000, 6);
		} finally {
			server.close();
		}
	});
});

describe("auto picks oha, then h2load, then the built-in generator", () => {
	const fake = (dir: string, name: string, version: string, help = "") => {
		const bin = join(dir, name);
		writeFileSync(
			bin,
			`#!/bin/sh\nif [ "$1" = --version ]; then echo "${version}"; else echo "${help}"; fi\n`,
		);
		chmodSync(bin, 0o755);
	};
	const pick = async (dir: string) =>
		(await selectGenerator("auto", ROOT, "test", { PATH: dir })).info;

	test("each in turn as the better ones go missing or are too old", async () => {
		const both = tempDir("select-both");
		fake(both, "oha", "oha 1.15.0");
		fake(both, "h2load", "h2load nghttp2/1.52.0", "--h1 --log-file");
		expect(await pick(both)).toEqual({ name: "oha", version: "1.15.0" });

		const oldOha = tempDir("select-old-oha");
		fake(oldOha, "oha", "oha 1.8.0");
		fake(oldOha, "h2load", "h2load nghttp2/1.52.0", "--h1 --log-file");
		expect(await pick(oldOha)).toEqual({ name: "h2load", version: "1.52.0" });

		const oldH2load = tempDir("select-old-h2load");
		fake(oldH2load, "h2load", "h2load nghttp2/1.10.0", "--h1");
		expect((await pick(oldH2load)).name).toBe("builtin");
		expect((await pick(tempDir("select-none"))).name).toBe("builtin");
	});

	test("a soak (timed) skips h2load, whose duration mode sends nothing over HTTP/1.1", async () => {
		const h2loadOnly = tempDir("select-timed");
		fake(h2loadOnly, "h2load", "h2load nghttp2/1.52.0", "--h1 --log-file");
		const timed = await selectGenerator(
			"auto",
			ROOT,
			"test",
			{ PATH: h2loadOnly },
			{ timed: true },
		);
		expect(timed.info.name).toBe("builtin");
		const error = await selectGenerator(
			"h2load",
			ROOT,
			"test",
			{ PATH: h2loadOnly },
			{ timed: true },
		).catch((e: unknown) => e);
		expect((error as Error).message).toMatch(/^--soak needs a duration mode/);
	});

	test("--loadgen h2load without h2load is an error, not a fallback", async () => {
		const error = await selectGenerator("h2load", ROOT, "test", {
			PATH: tempDir("select-h2load-none"),
		}).catch((e: unknown) => e);
		expect((error as Error).message).toMatch(/^h2load not found on PATH/);
	});
});

describe("gen CPU % and generator-bound in the tables (hand-made results)", () => {
	const results = readResults(join(FIXTURES, "gen-cpu", "results.json"));
	const sources = labelSources([results]);
	const { rows } = derive(sources);
	const row = (runtime: string, model: string, concurrency: number) =>
		rows.find((r) => r.runtime === runtime && r.model === model && r.concurrency === concurrency);

	test("rows: median over the rounds; bound when any round reached 90% of a core", () => {
		expect(row("node", "mlp-onnx", 1)).toMatchObject({ genCpuPct: 40, generatorBound: false });
		expect(row("node", "mlp-onnx", 8)).toMatchObject({ genCpuPct: 80, generatorBound: true });
		// Round 2 unrecorded: the median of the other two.
		expect(row("node", "floor", 8)).toMatchObject({ genCpuPct: 87.5, generatorBound: true });
		expect(row("bun", "floor", 8)).toMatchObject({ genCpuPct: null, generatorBound: false });
	});

	test("the latency table has the column, '-' for files without it, and no bound row at c=1", () => {
		const table = latencyTable(rows, sources, "runtime");
		const col = table.headers.indexOf("gen CPU %");
		expect(col).toBeGreaterThan(0);
		const byRuntime = (rt: string) => table.rows.filter((r) => r[0] === rt).map((r) => r[col]);
		expect(byRuntime("node")).toEqual(["40", "40"]);
		expect(byRuntime("bun")).toEqual(["-", "-"]);
		expect(table.notes.join(" ")).toContain('"gen CPU %"');
		expect(table.notes.join(" ")).not.toContain("generator-bound");
	});

	test("the concurrency sweep marks the bound rows and says what that means", () => {
		const table = concurrencyTable(rows, sources);
		if (!table) throw new Error("no concurrency table");
		const col = table.headers.indexOf("gen CPU %");
		const cells = table.rows.filter((r) => r[0] === "node").map((r) => [r[1], r[2], r[col]]);
		expect(cells).toEqual([
			["mlp-onnx", "1", "40"],
			["mlp-onnx", "8", "80 (generator-bound)"],
			["floor", "1", "40"],
			["floor", "8", "88 (generator-bound)"],
		]);
		const note = table.notes.find((n) => n.includes("generator-bound"));
		expect(note).toContain("90% of a core or more");
	});
});
