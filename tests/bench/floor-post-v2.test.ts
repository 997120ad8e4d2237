import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseOptions } from "../../bench/options.ts";
import { buildPlan, cellPlan, FLOOR_POST_PATH } from "../../bench/plan.ts";
import { derive } from "../../bench/report/derive.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { latencyTable } from "../../bench/report/tables.ts";
import { type Cell, FLOOR_POST, type Results, readResults } from "../../bench/results.ts";
import { readV2Input, V2_MODEL_NAME, V2Error } from "../../bench/v2.ts";
import { FLOOR_POST_PATH as SERVICE_FLOOR_POST_PATH } from "../../src/api/bench-routes.ts";
import { MODEL_NAME } from "../../src/inference/repository.ts";
import { FIXTURES, tempDir, usageError } from "./helpers.ts";

/** The floor-post cell and --v2 NAME --input FILE: options, plan and the report's column. */

describe("floor-post", () => {
	test("in the default models beside floor, and accepted by --models", () => {
		expect(parseOptions([]).models.slice(-2)).toEqual(["floor", "floor-post"]);
		expect(parseOptions(["--models", "floor-post,mlp-ts"]).models).toEqual([
			"floor-post",
			"mlp-ts",
		]);
	});

	test("its cell POSTs --body to the service's bench-only route", () => {
		expect(FLOOR_POST_PATH).toBe(SERVICE_FLOOR_POST_PATH);
		const plan = buildPlan({
			runtimes: ["node", "deno"],
			models: ["floor", FLOOR_POST],
			concurrency: [1],
			rounds: 1,
		});
		expect(plan.map((s) => s.cells)).toEqual([
			[
				{ model: "floor", concurrency: 1, method: "GET", path: "/health" },
				{ model: FLOOR_POST, concurrency: 1, method: "POST", path: FLOOR_POST_PATH },
			],
			[
				{ model: "floor", concurrency: 1, method: "GET", path: "/health" },
				{ model: FLOOR_POST, concurrency: 1, method: "POST", path: FLOOR_POST_PATH },
			],
		]);
	});

	/** The fixture's floor cells copied as floor-post cells, each p50 raised by `byMs`. */
	function withFloorPost(results: Results, byMs: number): Results {
		const posts: Cell[] = results.cells
			.filter((c) => c.model === "floor")
			.map((c) => ({
				...c,
				model: FLOOR_POST,
				stats: { ...c.stats, p50Ms: (c.stats.p50Ms ?? 0) + byMs },
			}));
		return {
			...results,
			options: { ...results.options, models: [...results.options.models, FLOOR_POST] },
			cells: [...results.cells, ...posts],
		};
	}

	test("p50 over floor-post: each model row's p50 minus its server's floor-post p50", () => {
		const results = withFloorPost(readResults(join(FIXTURES, "results.json")), 0.25);
		const sources = labelSources([results]);
		const { rows } = derive(sources);
		const row = (runtime: string, model: string) =>
			rows.find((r) => r.runtime === runtime && r.model === model && r.concurrency === 1);
		for (const runtime of ["node", "bun"]) {
			const floor = row(runtime, "floor")?.p50Ms as number;
			const post = row(runtime, FLOOR_POST)?.p50Ms as number;
			const model = row(runtime, "mlp-onnx")?.p50Ms as number;
			expect(post).toBeCloseTo(floor + 0.25, 9);
			expect(row(runtime, FLOOR_POST)?.p50OverFloorMs).toBeCloseTo(post - floor, 9);
			expect(row(runtime, FLOOR_POST)?.p50OverFloorPostMs).toBeNull();
			expect(row(runtime, "floor")?.p50OverFloorPostMs).toBeNull();
			expect(row(runtime, "mlp-onnx")?.p50OverFloorPostMs).toBeCloseTo(model - post, 9);
		}
		const table = latencyTable(rows, sources, "runtime");
		const col = table.headers.indexOf("p50 over floor-post ms");
		expect(col).toBe(table.headers.indexOf("p50 over floor ms") + 1);
		const cellOf = (runtime: string, model: string) =>
			table.rows.find((r) => r[0] === runtime && r[1] === model)?.[col];
		const nodeModel = row("node", "mlp-onnx")?.p50OverFloorPostMs as number;
		expect(cellOf("node", "mlp-onnx")).toBe(nodeModel.toFixed(3));
		expect(cellOf("node", FLOOR_POST)).toBe("-");
		expect(table.notes.join(" ")).toContain('"p50 over floor-post"');
	});

	test("no floor-post row, no column", () => {
		const sources = labelSources([readResults(join(FIXTURES, "results.json"))]);
		const table = latencyTable(derive(sources).rows, sources, "model");
		expect(table.headers).not.toContain("p50 over floor-post ms");
	});
});

describe("--v2 NAME --input FILE", () => {
	test("adds cell v2:NAME after the models", () => {
		const options = parseOptions(["--models", "floor", "--v2", "my.model-1", "--input", "x.json"]);
		expect(options.models).toEqual(["floor", "v2:my.model-1"]);
		expect(options.v2).toEqual({ name: "my.model-1", input: "x.json" });
		expect(parseOptions([]).v2).toBeNull();
	});

	test("one line for each misuse", () => {
		expect(usageError(["--v2", "m"])).toBe("--v2 m needs --input FILE (its request body)");
		expect(usageError(["--input", "x.json"])).toBe("--input is the body for --v2 NAME: give both");
		for (const bad of ["_m", "has space", "a/b", "x".repeat(65), ".hidden"]) {
			const message = usageError(["--v2", bad, "--input", "x.json"]);
			expect(message).toStartWith(`--v2 "${bad}" is not a model name`);
			expect(message).not.toContain("\n");
		}
		expect(usageError(["--v2", "m", "--input", "x.json", "--soak", "60s"])).toBe(
			"--soak takes no --v2",
		);
	});

	test("the name rule is the service's", () => {
		expect(V2_MODEL_NAME.source).toBe(MODEL_NAME.source);
	});

	test("its cell POSTs the --input body to /v2/models/NAME/infer", () => {
		const body = '{"inputs":[]}';
		const [server] = buildPlan({
			runtimes: ["bun"],
			models: ["floor", "v2:mymodel"],
			concurrency: [1, 4],
			rounds: 1,
			bodies: { "v2:mymodel": body },
		});
		expect(server?.cells.filter((c) => c.model === "v2:mymodel")).toEqual([
			{
				model: "v2:mymodel",
				concurrency: 1,
				method: "POST",
				path: "/v2/models/mymodel/infer",
				body,
			},
			{
				model: "v2:mymodel",
				concurrency: 4,
				method: "POST",
				path: "/v2/models/mymodel/infer",
				body,
			},
		]);
		expect(() => cellPlan("v2:mymodel", 1)).toThrow("v2:mymodel has no request body (--input)");
	});

	test("--input: readable JSON with an inputs array, else one line", () => {
		const dir = tempDir("v2-input");
		const file = (name: string, text: string) => {
			const path = join(dir, name);
			writeFileSync(path, text);
			return path;
		};
		const good = file("good.json", '  {"inputs": [{"name": "x"}]}\n');
		expect(readV2Input(good)).toBe('{"inputs": [{"name": "x"}]}');
		const cases: [string, string][] = [
			[join(dir, "missing.json"), "cannot read"],
			[file("text.json", "inputs"), "is not JSON"],
			[file("none.json", '{"outputs": []}'), 'with an "inputs" array'],
			[file("object.json", '{"inputs": {}}'), 'with an "inputs" array'],
			[file("array.json", '[{"inputs": []}]'), 'with an "inputs" array'],
			[file("null.json", "null"), 'with an "inputs" array'],
		];
		for (const [path, reason] of cases) {
			expect(() => readV2Input(path)).toThrow(V2Error);
			expect(() => readV2Input(path)).toThrow(reason);
		}
	});
});
