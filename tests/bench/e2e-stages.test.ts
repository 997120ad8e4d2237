import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findOnPath } from "../../bench/processes.ts";
import { readResults, STAGES } from "../../bench/results.ts";
import { freePort, startServer } from "../../bench/runtimes.ts";
import { checkStages } from "../../bench/stages.ts";
import { hasServer, ROOT, runCli, tempDir } from "./helpers.ts";

/** --stages end to end on one runtime, and a server without the stage routes. */

const hasH2load = findOnPath("h2load") !== null;
if (!hasH2load) console.warn("h2load not on PATH: its --stages end-to-end run is skipped");

/** A real --stages run on Bun; the stages table's row for mlp-ts and report.md's text. */
async function stagedRun(loadgen: "builtin" | "h2load") {
	const out = tempDir(`stages-e2e-${loadgen}`);
	const result = await runCli("bench/cli.ts", [
		"--stages",
		"--runtimes",
		"bun",
		"--models",
		"mlp-ts,floor,floor-post",
		"--requests",
		"50",
		"--warmup",
		"10",
		"--rounds",
		"1",
		"--loadgen",
		loadgen,
		"--out",
		out,
	]);
	return { result, out, report: () => readFileSync(join(out, "report.md"), "utf8") };
}

/** The stages table's row: 17 figures with one decimal (floor ... model call, own cost, timers), x floor. */
// The stages row: 17 figures, "x floor", and the timed server's steal where /proc/stat was read.
const STAGES_ROW = new RegExp(
	`^bun\\s+mlp-ts${"(\\s+-?\\d+\\.\\d)".repeat(17)}\\s+\\d+\\.\\d\\d(\\s+(\\d+\\.\\d|-))?$`,
	"m",
);

/** A run's mlp-ts cells: the untimed server's and the timed one's. */
function mlpCells(out: string) {
	const results = readResults(join(out, "results.json"));
	const mlp = results.cells.filter((c) => c.model === "mlp-ts");
	return { results, untimed: mlp.find((c) => !c.timed), timed: mlp.find((c) => c.timed) };
}

describe.skipIf(!hasServer)("bench --stages end to end", () => {
	test.skipIf(!hasH2load)(
		"h2load: the prediction cell sends floor-post beside it too, in one run",
		async () => {
			const { result, out, report } = await stagedRun("h2load");
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			const { untimed, timed } = mlpCells(out);
			for (const cell of [untimed, timed]) {
				expect(cell?.generator.name).toBe("h2load");
				expect(cell?.stats.count).toBe(50);
				expect(cell?.floorPostBesideP50Us).toBeGreaterThan(0);
			}
			expect(timed?.stages?.count).toBe(50);
			expect(untimed?.stages).toBeUndefined();
			// The untimed server kept the model calls of the 50 measured requests, cleared after the warm-up.
			expect(untimed?.infer).toMatchObject({ source: "server", count: 50 });
			expect(result.stdout).toMatch(STAGES_ROW);
			expect(report()).toContain("but the one measured beside the prediction");
		},
		60_000,
	);

	test("a prediction cell gets the server's stage p50s over its measured requests only", async () => {
		const { result, out, report } = await stagedRun("builtin");
		expect(result.stderr).not.toContain("warning");
		expect(result.code).toBe(0);
		const { results, untimed, timed } = mlpCells(out);
		expect(results.options.stages).toBe(true);
		// Two servers: the untimed one measured every cell, the timed one (after it) the model's.
		expect(results.processes.map((p) => p.timed ?? false)).toEqual([false, true]);
		expect(results.cells.filter((c) => c.timed).map((c) => c.model)).toEqual(["mlp-ts"]);
		// Cleared after the cell's warm-up: the warm-ups and the pre-check are not counted.
		expect(timed?.stages?.count).toBe(50);
		expect(Object.keys(timed?.stages?.p50Us ?? {})).toEqual([...STAGES]);
		expect(results.cells.filter((c) => c.stages).length).toBe(1);
		// Each prediction cell's own samples are the predictions', floor-post's p50 beside them.
		for (const cell of [untimed, timed]) {
			expect(cell?.stats.count).toBe(50);
			expect(cell?.floorPostBesideP50Us).toBeGreaterThan(0);
			const raw = readFileSync(join(out, cell?.rawFile ?? ""), "utf8")
				.trim()
				.split("\n");
			expect(raw).toHaveLength(51);
		}
		expect(untimed?.rawFile).not.toBe(timed?.rawFile);
		expect(result.stderr).toMatch(
			/bun\s+mlp-ts .*p50 \d+\.\d{3} ms \(floor-post beside it \d+\.\d{3} ms\)/,
		);
		expect(result.stderr).toMatch(/bun \(timed\) ready in/);
		expect(result.stdout).toMatch(STAGES_ROW);
		const heading = "### Where a prediction's time goes (p50, µs)";
		const lines = report().split(heading)[1]?.split("\n") ?? [];
		const cellsOf = (line: string | undefined) => line?.split(" | ").map((c) => c.trim()) ?? [];
		const header = cellsOf(lines.find((line) => line.startsWith("| runtime |")));
		const row = cellsOf(lines.find((line) => line.startsWith("| bun | mlp-ts |")));
		const column = (name: string) => row[header.indexOf(name)];
		// The client's figures are the untimed server's: its p50, the floor-post beside it, and
		// the model calls it kept over the measured requests.
		const us = (value: number | undefined) => (value ?? Number.NaN).toFixed(1);
		expect(column("prediction p50 µs")).toBe(us((untimed?.stats.p50Ms ?? Number.NaN) * 1000));
		expect(column("floor-post µs")).toBe(us(untimed?.floorPostBesideP50Us));
		expect(untimed?.infer).toMatchObject({ source: "server", count: 50 });
		expect(column("model call µs")).toBe(us((untimed?.infer.medianMs ?? Number.NaN) * 1000));
		expect(report()).toContain('"model call" is the model-call p50 own cost subtracts');
		expect(report()).toContain("but the one measured beside the prediction");
		expect(report()).toContain("Each runtime ran two servers");
		// The startup table counts the untimed server only.
		expect(result.stdout).toMatch(/^bun\s+1\s+\d+/m);
	}, 60_000);

	test("a server without STAGES=1 answers 404, which stops the bench with one line", async () => {
		const server = await startServer("bun", {
			root: ROOT,
			port: await freePort(),
			readyTimeoutMs: 30_000,
			env: { STAGES: "0" },
		});
		try {
			const session = { name: "bun", server: { baseUrl: `http://127.0.0.1:${server.port}` } };
			await expect(checkStages(session)).rejects.toThrow(
				"bun answered 404 to GET /bench/stages: it has no stage timers",
			);
		} finally {
			await server.stop();
		}
	}, 30_000);
});
