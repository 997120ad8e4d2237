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

/** The stages table's row: 15 figures with one decimal (floor ... floor-post, own cost), x floor. */
const STAGES_ROW = new RegExp(
	`^bun\\s+mlp-ts${"(\\s+-?\\d+\\.\\d)".repeat(15)}\\s+\\d+\\.\\d\\d$`,
	"m",
);

describe.skipIf(!hasServer)("bench --stages end to end", () => {
	test.skipIf(!hasH2load)(
		"h2load: the prediction cell sends floor-post beside it too, in one run",
		async () => {
			const { result, out, report } = await stagedRun("h2load");
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			const cells = readResults(join(out, "results.json")).cells;
			const cell = cells.find((c) => c.model === "mlp-ts");
			expect(cell?.generator.name).toBe("h2load");
			expect(cell?.stats.count).toBe(50);
			expect(cell?.stages?.count).toBe(50);
			expect(cell?.floorPostBesideP50Us).toBeGreaterThan(0);
			expect(result.stdout).toMatch(STAGES_ROW);
			expect(report()).toContain("but the one measured beside the prediction");
		},
		60_000,
	);

	test("a prediction cell gets the server's stage p50s over its measured requests only", async () => {
		const { result, out, report } = await stagedRun("builtin");
		expect(result.stderr).not.toContain("warning");
		expect(result.code).toBe(0);
		const results = readResults(join(out, "results.json"));
		expect(results.options.stages).toBe(true);
		const byModel = new Map(results.cells.map((c) => [c.model, c]));
		// Cleared after the cell's warm-up: the warm-ups and the pre-check are not counted.
		expect(byModel.get("mlp-ts")?.stages?.count).toBe(50);
		expect(Object.keys(byModel.get("mlp-ts")?.stages?.p50Us ?? {})).toEqual([...STAGES]);
		expect(byModel.get("floor")?.stages).toBeUndefined();
		expect(byModel.get("floor-post")?.stages).toBeUndefined();
		// The prediction cell's own samples are the predictions', floor-post's p50 beside them.
		const cell = byModel.get("mlp-ts");
		expect(cell?.stats.count).toBe(50);
		expect(cell?.floorPostBesideP50Us).toBeGreaterThan(0);
		const raw = readFileSync(join(out, cell?.rawFile ?? ""), "utf8")
			.trim()
			.split("\n");
		expect(raw).toHaveLength(51);
		expect(result.stderr).toMatch(
			/bun\s+mlp-ts .*p50 \d+\.\d{3} ms \(floor-post beside it \d+\.\d{3} ms\)/,
		);
		expect(result.stdout).toMatch(STAGES_ROW);
		const floorPostUs = (cell?.floorPostBesideP50Us ?? 0).toFixed(1);
		const heading = "### Where a prediction's time goes (p50, µs)";
		const row = report()
			.split(heading)[1]
			?.split("\n")
			.find((line) => line.startsWith("| bun | mlp-ts |"));
		// prediction p50, then the floor-post figure own cost used: the interleaved one.
		expect(row?.split(" | ").at(-3)).toBe(floorPostUs);
		expect(report()).toContain("but the one measured beside the prediction");
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
