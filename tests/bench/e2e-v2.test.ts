import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readResults } from "../../bench/results.ts";
import { modelsDirWith } from "../support/model-dirs.ts";
import { SPEC_EXAMPLE_REQUEST, specExampleModel } from "../support/onnx-models.ts";
import { hasServer, runCli, tempDir } from "./helpers.ts";

/**
 * --v2 NAME --input FILE end to end on one runtime: a model the test writes into a models folder
 * inside the project (MODELS_DIR, passed on to the servers), measured beside floor-post.
 */

const MODELS_DIR = modelsDirWith({ "mymodel.onnx": specExampleModel() });
const RUNTIME = "bun";

function inputFile(): string {
	const file = join(tempDir("v2-e2e"), "request.json");
	writeFileSync(file, JSON.stringify(SPEC_EXAMPLE_REQUEST));
	return file;
}

const args = (name: string, out: string) => [
	"--runtimes",
	RUNTIME,
	"--models",
	"floor-post",
	"--v2",
	name,
	"--input",
	inputFile(),
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
];

describe.skipIf(!hasServer)("bench --v2 end to end", () => {
	test("the model's cell and floor-post: every request 200, Server-Timing read on the v2 cell", async () => {
		const out = tempDir("v2-e2e-out");
		const result = await runCli("bench/cli.ts", args("mymodel", out), {
			env: { MODELS_DIR },
		});
		expect(result.stderr).not.toContain("warning");
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/^bun\s+v2:mymodel\s/m);
		expect(result.stdout).toContain("p50 over floor-post ms");
		const results = readResults(join(out, "results.json"));
		expect(results.options.models).toEqual(["floor-post", "v2:mymodel"]);
		const summary = results.cells.map((c) => ({
			model: c.model,
			count: c.stats.count,
			codes: c.stats.statusCodes,
			infer: { source: c.infer.source, count: c.infer.count },
		}));
		expect(summary.sort((a, b) => a.model.localeCompare(b.model))).toEqual([
			{
				model: "floor-post",
				count: 30,
				codes: { "200": 30 },
				infer: { source: "none", count: 0 },
			},
			{
				model: "v2:mymodel",
				count: 30,
				codes: { "200": 30 },
				infer: { source: "loadgen", count: 30 },
			},
		]);
	}, 120_000);

	test("a model the servers do not serve: one line with the server's message, exit 1", async () => {
		const result = await runCli("bench/cli.ts", args("nosuch", tempDir("v2-e2e-bad")), {
			env: { MODELS_DIR },
		});
		expect(result.code).toBe(1);
		expect(result.stdout).toBe("");
		const last = result.stderr.trim().split("\n").at(-1) ?? "";
		expect(last).toStartWith(
			"bench: --v2 nosuch: bun answered 404 to POST /v2/models/nosuch/infer: ",
		);
		// The server's own message lists what it serves.
		expect(last).toContain("mymodel");
	}, 120_000);
});
