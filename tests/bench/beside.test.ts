import { describe, expect, test } from "bun:test";
import {
	BLOCK,
	besideRequest,
	blockFor,
	FLOOR_POST_TARGET,
	PREDICTION_TARGET,
	splitBeside,
} from "../../bench/beside.ts";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import { H2loadGenerator } from "../../bench/loadgen/h2load.ts";
import {
	type LoadGenerator,
	type LoadRequest,
	type LoadResult,
	routeInterleaveRefusal,
	type Sample,
	takesTargets,
} from "../../bench/loadgen/types.ts";
import { DEFAULT_BODY } from "../../bench/options.ts";
import { cellPlan } from "../../bench/plan.ts";
import { cellRequest } from "../../bench/runner.ts";
import {
	type MeasuredServer,
	type ServerSettings,
	type Session,
	withTarget,
} from "../../bench/session.ts";
import { STAGES_PATH } from "../../bench/stages.ts";

/** --stages at concurrency 1: floor-post sent beside the prediction in one generator run. */

const ORIGIN = "http://127.0.0.1:9";

/** A session on ORIGIN as the runner has one (withTarget starts nothing). */
async function session(): Promise<Session<MeasuredServer>> {
	const settings = { body: DEFAULT_BODY, pinning: {} } as ServerSettings;
	return (await withTarget("node", ORIGIN, settings, async (s) => s)).result;
}

const generator = (rotates: boolean, interleavesRoutes: boolean): LoadGenerator => ({
	info: { name: "fake", version: "0" },
	rotates,
	interleavesRoutes,
	run: () => Promise.reject(new Error("not run")),
});
const BUILTIN_LIKE = generator(true, true);
const H2LOAD_LIKE = generator(false, true);
const OHA_LIKE = generator(false, false);

const post = (path: string, body = DEFAULT_BODY) => ({
	method: "POST" as const,
	url: `${ORIGIN}${path}`,
	body,
});

describe("the interleaved request", () => {
	test("floor-post first, then the prediction, same body; counts doubled; url stays the prediction's", async () => {
		const request = besideRequest(await session(), cellPlan("mlp-ts", 1), 100, 20);
		expect(request.targets).toEqual([post("/bench/floor-post"), post("/predict/mlp-ts")]);
		expect(request.targets?.[FLOOR_POST_TARGET]?.url).toEndWith("/bench/floor-post");
		expect(request.targets?.[PREDICTION_TARGET]?.url).toEndWith("/predict/mlp-ts");
		expect(request).toMatchObject({
			url: `${ORIGIN}/predict/mlp-ts`,
			method: "POST",
			body: DEFAULT_BODY,
			requests: 200,
			warmup: 40,
			concurrency: 1,
		});
		expect(request.alternate).toBeUndefined();
		// In blocks of 100: each route 100 times in a row.
		expect(request.block).toBe(BLOCK);
	});

	test("the block divides the requests, so each route gets exactly as many", () => {
		expect([5000, 1000, 300, 150, 40, 97, 1].map(blockFor)).toEqual([100, 100, 100, 75, 40, 97, 1]);
		// 202 = 2 x 101: blocks of 2.
		expect(blockFor(202)).toBe(2);
	});

	test("the runner interleaves a staged c=1 cell with a generator that can, else sends it alone", async () => {
		const s = await session();
		const settings = (g: LoadGenerator) => ({ generator: g, requests: 100, warmup: 20 });
		const clear = { method: "DELETE", url: `${ORIGIN}${STAGES_PATH}` };
		const both = { staged: true, beside: true };
		const neither = { staged: false, beside: false };
		for (const g of [BUILTIN_LIKE, H2LOAD_LIKE]) {
			const { request, interleaved } = cellRequest(s, cellPlan("mlp-ts", 1), settings(g), both);
			expect(interleaved).toBe(true);
			expect(request.targets?.map((t) => t.url)).toEqual([
				`${ORIGIN}/bench/floor-post`,
				`${ORIGIN}/predict/mlp-ts`,
			]);
			expect(request.afterWarmup).toEqual(clear);
		}
		// oha: one URL per run, so the prediction alone, as before.
		const oha = cellRequest(s, cellPlan("mlp-ts", 1), settings(OHA_LIKE), both);
		expect(oha.interleaved).toBe(false);
		expect(oha.request).toMatchObject({ requests: 100, warmup: 20, afterWarmup: clear });
		expect(oha.request.targets).toBeUndefined();
		// Above concurrency 1, and for cells without stage timers: unchanged.
		const c4 = cellRequest(s, cellPlan("mlp-ts", 4), settings(BUILTIN_LIKE), both);
		expect(c4.interleaved).toBe(false);
		expect(c4.request.targets).toBeUndefined();
		const floor = cellRequest(s, cellPlan("floor", 1), settings(BUILTIN_LIKE), neither);
		expect(floor.interleaved).toBe(false);
		expect(floor.request.afterWarmup).toBeUndefined();
	});

	test("the generators say what they can: builtin rotates anything, h2load routes of one origin", () => {
		const builtin = new BuiltinGenerator("node", { name: "builtin", version: "0" });
		const h2load = new H2loadGenerator("h2load", { name: "h2load", version: "1.52.0" });
		expect([builtin.rotates, builtin.interleavesRoutes]).toEqual([true, true]);
		expect([h2load.rotates, h2load.interleavesRoutes]).toEqual([false, true]);
	});
});

describe("which targets a generator that only interleaves routes takes", () => {
	const base: LoadRequest = {
		url: `${ORIGIN}/predict/mlp-ts`,
		method: "POST",
		requests: 10,
		concurrency: 1,
		targets: [post("/bench/floor-post"), post("/predict/mlp-ts")],
	};

	test("routes of one origin sharing method and body, at c=1, in plain turn", () => {
		expect(routeInterleaveRefusal(base)).toBeNull();
		expect(routeInterleaveRefusal({ ...base, targets: undefined })).toBeNull();
		expect(takesTargets(H2LOAD_LIKE, base)).toBe(true);
		expect(takesTargets(OHA_LIKE, base)).toBe(false);
		expect(takesTargets(OHA_LIKE, { ...base, targets: undefined })).toBe(true);
	});

	const refused: [string, LoadRequest, string][] = [
		[
			"two origins",
			{ ...base, targets: [post("/a"), { ...post("/b"), url: "http://127.0.0.1:10/b" }] },
			"interleaved routes must share one origin",
		],
		[
			"two bodies",
			{ ...base, targets: [post("/a"), post("/b", "{}")] },
			"interleaved routes must share method and body",
		],
		[
			"two methods",
			{ ...base, targets: [post("/a"), { method: "GET", url: `${ORIGIN}/health`, body: "" }] },
			"interleaved routes must share method and body",
		],
		["concurrency 2", { ...base, concurrency: 2 }, "routes are interleaved at concurrency 1 only"],
		["alternate", { ...base, alternate: true }, "routes are interleaved in plain turn"],
	];
	for (const [what, request, why] of refused) {
		test(`refused: ${what}; a generator that rotates takes it`, () => {
			expect(routeInterleaveRefusal(request)).toContain(why);
			expect(takesTargets(H2LOAD_LIKE, request)).toBe(false);
			expect(takesTargets(BUILTIN_LIKE, request)).toBe(true);
		});
	}
});

describe("splitting an interleaved run", () => {
	const sample = (index: number, durationUs: number, status = 200): Sample => ({
		startUs: index * 100,
		durationUs,
		status,
		inferMs: null,
		target: index % 2,
		index,
	});

	test("the cell is the prediction's; floor-post's p50 over its responses, stats.ts's rank rule", () => {
		// floor-post 40, 10, 30, 20 (p50 of 4 is sorted[2] = 30); predictions 100, 300, 200.
		const samples = [40, 100, 10, 300, 30, 200, 20].map((us, i) => sample(i, us));
		const result: LoadResult = {
			samples,
			errors: 1,
			targetErrors: [0, 1],
			wallUs: 1400,
			generator: { name: "builtin", version: "0" },
			readsServerTiming: true,
		};
		const split = splitBeside(result);
		expect(split.samples.map((s) => s.durationUs)).toEqual([100, 300, 200]);
		expect(split.floorPostP50Us).toBe(30);
		expect(split.errors).toBe(1);
		// 600 of the 700 µs of requests were the prediction's.
		expect(split.wallUs).toBeCloseTo(1200, 9);
	});

	test("no floor-post response: no figure", () => {
		const result: LoadResult = {
			samples: [sample(1, 100)],
			errors: 0,
			wallUs: 100,
			generator: { name: "h2load", version: "1.52.0" },
			readsServerTiming: false,
		};
		expect(splitBeside(result)).toMatchObject({ floorPostP50Us: null, errors: 0 });
	});
});
