import type { LoadRequest, LoadResult, Sample } from "./loadgen/types.ts";
import { apportionWallUs, samplesOf } from "./paired.ts";
import { type CellPlan, cellPlan } from "./plan.ts";
import { FLOOR_POST } from "./results.ts";
import type { MeasuredServer, Session } from "./session.ts";
import { percentile } from "./stats.ts";

/**
 * --stages at concurrency 1: a prediction's own cost is its p50 minus floor-post's (and the model).
 * Measured in cells of their own, the two p50s meet different moments of a shared machine, whose
 * round-to-round spread (10-20 µs on the 2-core VM) is larger than the ~10 µs to resolve. So the
 * prediction cell sends both in one generator run on one connection, in blocks: BLOCK floor-posts,
 * BLOCK predictions, BLOCK floor-posts, ... (warm-up included), and both p50s see the same machine.
 *
 * Blocks, not strict turns: each request then follows one of its own kind, as in a cell of its
 * own, so the p50s are those of the latency tables. Strictly alternated, every model call followed
 * a floor-post and ran on caches it had evicted: measured on the 2-core VM (5 rounds, h2load,
 * pinned), Node's mlp-onnx p50 118 µs against 76 for mlp-ts (a 42 µs gap; 15-20 µs in cells of
 * their own), and the bare peer's 67 against 52.
 */

/** Where each request of an interleaved run went (`Sample.target`). */
export const FLOOR_POST_TARGET = 0;
export const PREDICTION_TARGET = 1;

/**
 * The interleaved run of one prediction cell: `requests` and `warmup` are the prediction's, and as
 * many floor-posts (the same body) go beside them. `url`, method and body stay the prediction's, so
 * whatever reads the request alone (the Server-Timing side sample) still sees the prediction.
 */
export function besideRequest(
	session: Session<MeasuredServer>,
	plan: CellPlan,
	requests: number,
	warmup: number,
): LoadRequest {
	const floorPost = session.target(cellPlan(FLOOR_POST, plan.concurrency));
	return {
		...session.request(plan, requests * 2, warmup * 2),
		targets: [floorPost, session.target(plan)],
		block: blockFor(requests),
	};
}

/** Requests of one kind in a row: ~100 requests of ~0.1 ms, so the machine changes little within a pair of blocks. */
export const BLOCK = 100;

/** The largest block up to BLOCK that divides `requests`, so each route gets exactly that many. */
export function blockFor(requests: number): number {
	for (let block = Math.min(BLOCK, requests); block > 1; block--) {
		if (requests % block === 0) return block;
	}
	return 1;
}

/** The prediction's share of an interleaved run, and the p50 of the floor-posts beside it. */
export interface Beside {
	samples: Sample[];
	errors: number;
	/** The run's wall time apportioned as for a paired server (paired.ts, apportionWallUs). */
	wallUs: number;
	/** Over every floor-post response, as a cell's p50 is (stats.ts); null without one. */
	floorPostP50Us: number | null;
}

export function splitBeside(result: LoadResult): Beside {
	const samples = samplesOf(result.samples, PREDICTION_TARGET);
	const floorPost = samplesOf(result.samples, FLOOR_POST_TARGET)
		.map((s) => s.durationUs)
		.sort((a, b) => a - b);
	return {
		samples,
		errors: result.targetErrors?.[PREDICTION_TARGET] ?? 0,
		wallUs: apportionWallUs(result.wallUs, samples, result.samples),
		floorPostP50Us: percentile(floorPost, 50),
	};
}
