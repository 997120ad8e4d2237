import type { Options } from "./options.ts";
import { FLOOR, type MetricsSetting } from "./results.ts";
import type { RuntimeName } from "./runtimes.ts";

export interface CellPlan {
	model: string;
	concurrency: number;
	method: "GET" | "POST";
	path: string;
}

/**
 * One server process, or a pair of them started together: started fresh, measured on every cell,
 * stopped.
 */
export interface ServerPlan {
	round: number;
	runtime: RuntimeName;
	/** WORKERS for this server: 1 serves from one process (one thread on Deno). */
	workers: number;
	/**
	 * METRICS for this server; with two values, two servers that differ only in it, both up at
	 * once, each cell measured by one generator run alternating requests between them (A first).
	 */
	metrics: MetricsSetting[];
	cells: CellPlan[];
}

export function cellPlan(model: string, concurrency: number): CellPlan {
	return model === FLOOR
		? { model, concurrency, method: "GET", path: "/health" }
		: { model, concurrency, method: "POST", path: `/predict/${encodeURIComponent(model)}` };
}

/**
 * Rounds interleave the runtimes (A B C A B C) so slow drift of the machine (thermal, noisy
 * neighbours) spreads over all of them instead of landing on whichever ran last. Within a round,
 * each workers value runs every runtime in turn: node x1, bun x1, deno x1, node x2, ...
 *
 * With two METRICS values (--metrics on,off) each runtime's servers come as one pair, started
 * together and measured request by request against each other; which of the two is A (started
 * first, sent the first request) turns every round. One value: one server, as above.
 */
export function buildPlan(
	options: Pick<Options, "runtimes" | "models" | "concurrency" | "rounds"> & {
		workers?: readonly number[];
		metrics?: readonly MetricsSetting[];
	},
): ServerPlan[] {
	const servers: ServerPlan[] = [];
	const cells = () => options.concurrency.flatMap((c) => options.models.map((m) => cellPlan(m, c)));
	for (let round = 1; round <= options.rounds; round++) {
		for (const workers of options.workers ?? [1]) {
			const metrics = rotate<MetricsSetting>(options.metrics ?? ["on"], round - 1);
			for (const runtime of options.runtimes) {
				servers.push({ round, runtime, workers, metrics, cells: cells() });
			}
		}
	}
	return servers;
}

/** The items, starting at index `by` (modulo their count). */
export function rotate<T>(items: readonly T[], by: number): T[] {
	const shift = items.length === 0 ? 0 : by % items.length;
	return [...items.slice(shift), ...items.slice(0, shift)];
}
