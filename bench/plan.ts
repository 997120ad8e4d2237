import type { Options } from "./options.ts";
import { PEER_CELLS, type PeerName, peerCells } from "./peers.ts";
import { FLOOR, FLOOR_POST, isFloor, type MetricsSetting } from "./results.ts";
import type { ServerProgram } from "./runtimes.ts";
import { type Target, targetModel, targetOrigin } from "./targets.ts";
import { v2Path } from "./v2.ts";

export interface CellPlan {
	model: string;
	concurrency: number;
	method: "GET" | "POST";
	path: string;
	/** The body of this cell's POSTs where it is not --body's (a --v2 cell's --input). */
	body?: string;
}

/** The bench-only route of the service behind FLOOR_POST (src/api/bench-routes.ts). */
export const FLOOR_POST_PATH = "/bench/floor-post";

/**
 * One server process, or a pair of them started together: started fresh, measured on every cell,
 * stopped.
 */
/**
 * What the bench does to have the server: start a program (our service on a runtime, or a peer)
 * on a port of its own, or nothing (a --target, already running at `origin`).
 */
export type Launch = { program: ServerProgram } | { origin: string };

export interface ServerPlan {
	round: number;
	/** The name in every table: a runtime, a peer, or a --target's NAME. */
	runtime: string;
	launch: Launch;
	/** WORKERS for this server: 1 serves from one process (one thread on Deno). */
	workers: number;
	/**
	 * METRICS for this server; with two values, two servers that differ only in it, both up at
	 * once, each cell measured by one generator run alternating requests between them (A first).
	 * A peer or target has no such setting: [null].
	 */
	metrics: (MetricsSetting | null)[];
	/**
	 * --stages: the server times each prediction by stage (STAGES=1). It is a second server of the
	 * runtime, measured on the model cells only and after the untimed one: its stage figures feed
	 * the breakdown, while latencies and own cost come from the untimed server, which answers as
	 * production does (the timers' own cost is not in them).
	 */
	stages?: boolean;
	/**
	 * --stages: each model cell at concurrency 1 is measured beside floor-post (bench/beside.ts):
	 * our runtimes and the peers that answer floor-post, so their own costs compare like for like.
	 */
	beside?: boolean;
	cells: CellPlan[];
}

/** `bodies`: per model, a body of its own (a --v2 cell must have one). */
export function cellPlan(
	model: string,
	concurrency: number,
	bodies: Readonly<Record<string, string>> = {},
): CellPlan {
	if (model === FLOOR) return { model, concurrency, method: "GET", path: "/health" };
	if (model === FLOOR_POST) return { model, concurrency, method: "POST", path: FLOOR_POST_PATH };
	const v2 = v2Path(model);
	if (v2 !== null) {
		const body = bodies[model];
		if (body === undefined) throw new Error(`${model} has no request body (--input)`);
		return { model, concurrency, method: "POST", path: v2, body };
	}
	return { model, concurrency, method: "POST", path: `/predict/${encodeURIComponent(model)}` };
}

/**
 * Rounds interleave the runtimes (A B C A B C) so slow drift of the machine (thermal, noisy
 * neighbours) spreads over all of them instead of landing on whichever ran last. Within a round,
 * each workers value runs every runtime in turn: node x1, bun x1, deno x1, node x2, ...
 *
 * With two METRICS values (--metrics on,off) each runtime's servers come as one pair, started
 * together and measured request by request against each other; which of the two is A (started
 * first, sent the first request) turns every round. One value: one server, as above.
 *
 * --stages: each runtime's untimed server, then its timed one (STAGES=1) on the model cells.
 */
export function buildPlan(
	options: Pick<Options, "runtimes" | "models" | "concurrency" | "rounds"> & {
		workers?: readonly number[];
		metrics?: readonly MetricsSetting[];
		stages?: boolean;
		peers?: readonly PeerName[];
		targets?: readonly Target[];
		/** Per model, a body other than --body's (the --v2 cell's). */
		bodies?: Readonly<Record<string, string>>;
	},
): ServerPlan[] {
	const servers: ServerPlan[] = [];
	const cells = () =>
		options.concurrency.flatMap((c) => options.models.map((m) => cellPlan(m, c, options.bodies)));
	for (let round = 1; round <= options.rounds; round++) {
		for (const workers of options.workers ?? [1]) {
			const metrics = rotate<MetricsSetting>(options.metrics ?? ["on"], round - 1);
			for (const runtime of options.runtimes) {
				const server = { round, runtime, launch: { program: runtime }, workers, metrics };
				servers.push(...runtimePlans(server, cells(), options.stages === true));
			}
		}
		servers.push(...outsidePlans(options, round));
	}
	return servers;
}

/** A runtime's server; under --stages measured beside floor-post, then its timed twin. */
function runtimePlans(
	server: Omit<ServerPlan, "cells" | "stages" | "beside">,
	cells: CellPlan[],
	stages: boolean,
): ServerPlan[] {
	if (!stages) return [{ ...server, cells }];
	const timed = cells.filter((cell) => !isFloor(cell.model));
	const twin = timed.length > 0 ? [{ ...server, stages: true, beside: true, cells: timed }] : [];
	return [{ ...server, beside: true, cells }, ...twin];
}

/**
 * One round's peers and targets, after the runtimes: one server each (one worker, no METRICS
 * setting). A peer gets the cells it has a stand-in for (none: not started at all), measured
 * beside its floor-post under --stages as ours are; a target one cell per concurrency, its model
 * the URL's path.
 */
function outsidePlans(
	options: Pick<Options, "models" | "concurrency"> & {
		stages?: boolean;
		peers?: readonly PeerName[];
		targets?: readonly Target[];
	},
	round: number,
): ServerPlan[] {
	const one = { round, workers: 1, metrics: [null] };
	const plans: ServerPlan[] = [];
	for (const peer of options.peers ?? []) {
		const peerCellsAsked = peerCells(peer, options.models);
		const cells = options.concurrency.flatMap((concurrency) =>
			peerCellsAsked.map((cell) => ({ ...cell, concurrency })),
		);
		if (cells.length === 0) continue;
		const beside = options.stages === true && PEER_CELLS[peer][FLOOR_POST] !== undefined;
		plans.push({
			...one,
			runtime: peer,
			launch: { program: peer },
			...(beside ? { beside } : {}),
			cells,
		});
	}
	for (const target of options.targets ?? []) {
		const path = targetModel(target);
		const cells = options.concurrency.map((concurrency) => ({
			model: path,
			concurrency,
			method: "POST" as const,
			path,
		}));
		plans.push({ ...one, runtime: target.name, launch: { origin: targetOrigin(target) }, cells });
	}
	return plans;
}

/** The items, starting at index `by` (modulo their count). */
export function rotate<T>(items: readonly T[], by: number): T[] {
	const shift = items.length === 0 ? 0 : by % items.length;
	return [...items.slice(shift), ...items.slice(0, shift)];
}
