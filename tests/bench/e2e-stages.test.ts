import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readResults, STAGES } from "../../bench/results.ts";
import { freePort, startServer } from "../../bench/runtimes.ts";
import { checkStages } from "../../bench/stages.ts";
import { hasServer, ROOT, runCli, tempDir } from "./helpers.ts";

/** --stages end to end on one runtime, and a server without the stage routes. */

describe.skipIf(!hasServer)("bench --stages end to end", () => {
	test("a prediction cell gets the server's stage p50s over its measured requests only", async () => {
		const out = tempDir("stages-e2e");
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
			"builtin",
			"--out",
			out,
		]);
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
		const figures = "(\\s+-?\\d+\\.\\d)";
		expect(result.stdout).toMatch(
			new RegExp(`^bun\\s+mlp-ts${figures.repeat(14)}\\s+\\d+\\.\\d\\d$`, "m"),
		);
		expect(readFileSync(join(out, "report.md"), "utf8")).toContain(
			"### Where a prediction's time goes (p50, µs)",
		);
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
