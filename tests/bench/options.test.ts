import { describe, expect, test } from "bun:test";
import { DEFAULTS, MODELS, parseOptions, UsageError } from "../../bench/options.ts";
import { buildPlan, cellPlan } from "../../bench/plan.ts";
import { FLOOR, FLOOR_POST } from "../../bench/results.ts";
import { denoRunFlags, serverCommand } from "../../bench/runtimes.ts";
import { ROOT } from "./helpers.ts";

describe("options", () => {
	test("defaults: every runtime, every model plus both floors", () => {
		const o = parseOptions([]);
		expect(o.runtimes).toEqual(["node", "bun", "deno"]);
		expect(o.models).toEqual([...MODELS, FLOOR, FLOOR_POST]);
		expect(o).toMatchObject({
			requests: 1000,
			concurrency: [1],
			warmup: 1000,
			rounds: DEFAULTS.rounds,
			loadgen: "auto",
			out: null,
			pin: false,
			port: null,
		});
	});

	test("lists and numbers", () => {
		const o = parseOptions([
			"--runtimes",
			"deno,node",
			"--models=gbdt-ts,floor",
			"--requests",
			"64",
			"--concurrency",
			"1,16,64",
			"--warmup",
			"0",
			"--rounds",
			"2",
			"--loadgen",
			"builtin",
			"--pin",
			"--port",
			"8123",
		]);
		expect(o).toMatchObject({
			runtimes: ["deno", "node"],
			models: ["gbdt-ts", "floor"],
			requests: 64,
			concurrency: [1, 16, 64],
			warmup: 0,
			rounds: 2,
			loadgen: "builtin",
			pin: true,
			port: 8123,
		});
	});

	const bad: [string[], RegExp][] = [
		[["--runtimes", "node,python"], /unknown runtime "python"/],
		[["--models", "mlp-onnx,xgb"], /unknown model "xgb"/],
		[["--requests", "ten"], /--requests must be an integer/],
		[["--requests", "0"], /--requests must be at least 1/],
		[["--concurrency", "1,,4"], /--concurrency must be an integer/],
		[["--concurrency", "4,4"], /lists a value twice/],
		[["--concurrency", "20", "--requests", "10"], /exceeds --requests/],
		[["--rounds=-1"], /--rounds must be an integer/],
		[["--rounds", "-1"], /--rounds.* argument is ambiguous/],
		[["--loadgen", "wrk"], /unknown loadgen "wrk"/],
		[["--port", "70000"], /at most 65535/],
		[["--frobnicate"], /Unknown option '--frobnicate'/],
		[["--requests"], /argument missing/],
		[["extra"], /unexpected argument "extra"/],
		[["--runtimes", "node,node"], /--runtimes lists a value twice/],
	];
	for (const [argv, message] of bad) {
		test(`rejects ${argv.join(" ")}`, () => {
			expect(() => parseOptions(argv)).toThrow(UsageError);
			expect(() => parseOptions(argv)).toThrow(message);
		});
	}
});

describe("plan", () => {
	test("rounds interleave the runtimes: A B C A B C", () => {
		const plan = buildPlan({
			runtimes: ["node", "bun", "deno"],
			models: ["mlp-ts"],
			concurrency: [1],
			rounds: 2,
		});
		expect(plan.map((s) => `${s.runtime}${s.round}`)).toEqual([
			"node1",
			"bun1",
			"deno1",
			"node2",
			"bun2",
			"deno2",
		]);
	});

	test("each server measures every model at every concurrency", () => {
		const [server] = buildPlan({
			runtimes: ["bun"],
			models: ["gbdt-onnx", FLOOR],
			concurrency: [1, 8],
			rounds: 1,
		});
		expect(server?.cells.map((c) => `${c.model}@${c.concurrency}`)).toEqual([
			"gbdt-onnx@1",
			"floor@1",
			"gbdt-onnx@8",
			"floor@8",
		]);
	});

	test("the floor is GET /health, models are POST /predict/:model", () => {
		expect(cellPlan(FLOOR, 1)).toEqual({
			model: FLOOR,
			concurrency: 1,
			method: "GET",
			path: "/health",
		});
		expect(cellPlan("mlp-onnx", 2)).toEqual({
			model: "mlp-onnx",
			concurrency: 2,
			method: "POST",
			path: "/predict/mlp-onnx",
		});
	});
});

describe("runtime commands", () => {
	test("Deno's flags come from deno.json's serve task", () => {
		const flags = denoRunFlags(ROOT);
		expect(flags).toContain("--allow-net");
		expect(flags.every((f) => f.startsWith("--"))).toBe(true);
		const { command, args } = serverCommand("deno", ROOT, "src/serve");
		expect(command).toEndWith("node_modules/.bin/deno");
		expect(args).toEqual(["run", ...flags, "src/serve/deno.ts"]);
	});

	test("node and bun run their entry points directly, so the pid is the server's", () => {
		expect(serverCommand("node", ROOT, "src/serve")).toEqual({
			command: `${ROOT}/node_modules/.bin/node`,
			args: ["src/serve/node.ts"],
		});
		expect(serverCommand("bun", ROOT, "src/serve").args).toEqual(["src/serve/bun.ts"]);
	});
});
