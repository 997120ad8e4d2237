import { FLOOR, type Options } from "./options.ts";
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
	cells: CellPlan[];
}

export function cellPlan(model: string, concurrency: number): CellPlan {
	return model === FLOOR
		? { model, concurrency, method: "GET", path: "/health" }
		: { model, concurrency, method: "POST", path: `/predict/${encodeURIComponent(model)}` };
}

/**
 * Rounds interleave the runtimes (A B C A B C) so slow drift of the machine (thermal, noisy
 * neighbours) spreads over all of them instead of landing on whichever ran last.
 */
export function buildPlan(
	options: Pick<Options, "runtimes" | "models" | "concurrency" | "rounds">,
): ServerPlan[] {
	const servers: ServerPlan[] = [];
	for (let round = 1; round <= options.rounds; round++) {
		for (const runtime of options.runtimes) {
			const cells = options.concurrency.flatMap((c) => options.models.map((m) => cellPlan(m, c)));
			servers.push({ round, runtime, cells });
		}
	}
	return servers;
}
