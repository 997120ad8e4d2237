import type { Options } from "./options.ts";
import { FLOOR } from "./results.ts";
import type { RuntimeName } from "./runtimes.ts";

export interface CellPlan {
	model: string;
	concurrency: number;
	method: "GET" | "POST";
	path: string;
}

/** One server process: started fresh, measured on every cell, stopped. */
export interface ServerPlan {
	round: number;
	runtime: RuntimeName;
	/** WORKERS for this server: 1 serves from one process (one thread on Deno). */
	workers: number;
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
 */
export function buildPlan(
	options: Pick<Options, "runtimes" | "models" | "concurrency" | "rounds"> & {
		workers?: readonly number[];
	},
): ServerPlan[] {
	const servers: ServerPlan[] = [];
	for (let round = 1; round <= options.rounds; round++) {
		for (const workers of options.workers ?? [1]) {
			for (const runtime of options.runtimes) {
				const cells = options.concurrency.flatMap((c) => options.models.map((m) => cellPlan(m, c)));
				servers.push({ round, runtime, workers, cells });
			}
		}
	}
	return servers;
}
