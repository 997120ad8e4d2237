import { type Cell, type Results, workersOf } from "../results.ts";

/** One results.json, labelled by the machine it came from when several are merged. */
export interface Source {
	label: string;
	results: Results;
}

export interface Row {
	machine: string;
	/** The median round's cell. */
	cell: Cell;
	rounds: number;
}

/**
 * Labels sources by host; the same host twice (two runs on one machine) gets a numbered suffix so
 * the cells stay apart.
 */
export function labelSources(results: readonly Results[]): Source[] {
	const seen = new Map<string, number>();
	return results.map((r) => {
		const host = r.environment.host;
		const n = (seen.get(host) ?? 0) + 1;
		seen.set(host, n);
		const total = results.filter((x) => x.environment.host === host).length;
		return { label: total > 1 ? `${host} #${n}` : host, results: r };
	});
}

/**
 * For every (machine, runtime, workers, model, concurrency), the round whose p50 is the median of the
 * rounds' p50s (the lower middle one for an even count), so a table row is one real run, not a
 * blend of several.
 */
export function medianRows(sources: readonly Source[]): Row[] {
	const groups = new Map<string, { machine: string; cells: Cell[] }>();
	for (const source of sources) {
		for (const cell of source.results.cells) {
			const key = JSON.stringify([
				source.label,
				cell.runtime,
				workersOf(cell),
				cell.model,
				cell.concurrency,
			]);
			const group = groups.get(key) ?? { machine: source.label, cells: [] };
			group.cells.push(cell);
			groups.set(key, group);
		}
	}
	return [...groups.values()].map(({ machine, cells }) => {
		const sorted = [...cells].sort(
			(a, b) =>
				(a.stats.p50Ms ?? Number.POSITIVE_INFINITY) - (b.stats.p50Ms ?? Number.POSITIVE_INFINITY) ||
				a.round - b.round,
		);
		return { machine, cell: sorted[(sorted.length - 1) >> 1] as Cell, rounds: cells.length };
	});
}

/** Whether the rows hold more than one workers value, so tables and charts must label it. */
export function severalWorkers(items: readonly { workers?: number | undefined }[]): boolean {
	return new Set(items.map(workersOf)).size > 1;
}
