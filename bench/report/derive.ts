import {
	type Cell,
	FLOOR,
	type MetricsSetting,
	metricsOf,
	type ProcessRecord,
	workersOf,
} from "../results.ts";
import { median, non2xx } from "../stats.ts";
import { runtimeOrder, type Source } from "./sources.ts";

/**
 * Everything the tables and charts show, derived once from the results' raw per-round cells and
 * server processes; the printers only read it.
 */

/** The lowest and highest value over the rounds. */
interface Range {
	min: number;
	max: number;
}

/** One (machine, runtime, workers, metrics, model, concurrency) over all of its rounds. */
export interface Row {
	machine: string;
	runtime: Cell["runtime"];
	workers: number;
	/** METRICS; null for runs from before --metrics. */
	metrics: MetricsSetting | null;
	model: string;
	concurrency: number;
	rounds: number;
	/** Measured requests per round. */
	requests: number;
	/** "name version" of each load generator that measured a round. */
	generators: string[];
	/** Medians over the rounds (null when no round had a response). */
	avgMs: number | null;
	totalMs: number;
	varianceMs2: number | null;
	p50Ms: number | null;
	p99Ms: number | null;
	rps: number;
	inferMs: number | null;
	/** Extremes over every round's requests: the fastest and the slowest request measured. */
	minMs: number | null;
	maxMs: number | null;
	p50Range: Range | null;
	rpsRange: Range;
	/** p50 minus the p50 of the same machine, runtime, workers, metrics and concurrency's floor row. */
	p50OverFloorMs: number | null;
	/** Requests without a response and non-2xx responses, summed over the rounds. */
	errors: number;
	non2xx: [code: string, count: number][];
}

/** One runtime (and workers and metrics value, machine) over its server processes, one per round. */
export interface ServerRow {
	machine: string;
	runtime: ProcessRecord["runtime"];
	workers: number;
	metrics: MetricsSetting | null;
	servers: number;
	/** Medians over the servers. */
	processes: number | null;
	spawnToReadyMs: number | null;
	peakRssKiB: number | null;
	cpuMs: number | null;
	stopMs: number | null;
	/** Servers that exited 0 on SIGTERM without needing SIGKILL. */
	clean: number;
}

/**
 * A cell measured with METRICS=on and with METRICS=off in the same rounds: the difference of the
 * two p50s round by round. Servers of one round ran one after the other, so each difference
 * compares like with like even when the machine drifts between rounds.
 */
export interface MetricsPair {
	machine: string;
	runtime: Cell["runtime"];
	workers: number;
	model: string;
	concurrency: number;
	/** p50 on minus p50 off, per round that measured both. */
	roundDiffsMs: number[];
}

interface Derived {
	rows: Row[];
	servers: ServerRow[];
	metricsPairs: MetricsPair[];
}

export function derive(sources: readonly Source[]): Derived {
	return {
		rows: withFloor(latencyRows(sources)),
		servers: serverRows(sources),
		metricsPairs: metricsPairs(sources),
	};
}

function metricsPairs(sources: readonly Source[]): MetricsPair[] {
	const pairs: MetricsPair[] = [];
	for (const { machine, cells } of groupCells(sources)) {
		const first = cells[0] as Cell;
		if (metricsOf(first) !== "on") continue;
		const offCells = sources
			.filter((s) => s.label === machine)
			.flatMap((s) => s.results.cells)
			.filter(
				(c) =>
					metricsOf(c) === "off" &&
					c.runtime === first.runtime &&
					workersOf(c) === workersOf(first) &&
					c.model === first.model &&
					c.concurrency === first.concurrency,
			);
		const roundDiffsMs = cells.flatMap((on) => {
			const off = offCells.find((c) => c.round === on.round);
			const [a, b] = [on.stats.p50Ms, off?.stats.p50Ms ?? null];
			return a === null || b === null ? [] : [a - b];
		});
		if (roundDiffsMs.length === 0) continue;
		const { runtime, model, concurrency } = first;
		pairs.push({ machine, runtime, workers: workersOf(first), model, concurrency, roundDiffsMs });
	}
	return pairs;
}

const present = (values: readonly (number | null)[]): number[] =>
	values.filter((v): v is number => v !== null);

const rangeOf = (values: readonly number[]): Range | null =>
	values.length === 0 ? null : { min: Math.min(...values), max: Math.max(...values) };

function groupCells(sources: readonly Source[]): { machine: string; cells: Cell[] }[] {
	const groups = new Map<string, { machine: string; cells: Cell[] }>();
	for (const source of sources) {
		for (const cell of source.results.cells) {
			const key = JSON.stringify([
				source.label,
				cell.runtime,
				workersOf(cell),
				metricsOf(cell),
				cell.model,
				cell.concurrency,
			]);
			const group = groups.get(key) ?? { machine: source.label, cells: [] };
			group.cells.push(cell);
			groups.set(key, group);
		}
	}
	return [...groups.values()];
}

function latencyRows(sources: readonly Source[]): Row[] {
	return groupCells(sources).map(({ machine, cells }) => {
		const first = cells[0] as Cell;
		const stat = (pick: (s: Cell["stats"]) => number | null) =>
			present(cells.map((c) => pick(c.stats)));
		const rps = stat((s) => s.rps);
		return {
			machine,
			runtime: first.runtime,
			workers: workersOf(first),
			metrics: metricsOf(first),
			model: first.model,
			concurrency: first.concurrency,
			rounds: cells.length,
			requests: first.requests,
			generators: [...new Set(cells.map((c) => `${c.generator.name} ${c.generator.version}`))],
			avgMs: median(stat((s) => s.avgMs)),
			totalMs: median(stat((s) => s.totalMs)) ?? 0,
			varianceMs2: median(stat((s) => s.varianceMs2)),
			p50Ms: median(stat((s) => s.p50Ms)),
			p99Ms: median(stat((s) => s.p99Ms)),
			rps: median(rps) ?? 0,
			inferMs: median(present(cells.map((c) => c.infer.medianMs))),
			minMs: rangeOf(stat((s) => s.minMs))?.min ?? null,
			maxMs: rangeOf(stat((s) => s.maxMs))?.max ?? null,
			p50Range: rangeOf(stat((s) => s.p50Ms)),
			rpsRange: rangeOf(rps) ?? { min: 0, max: 0 },
			p50OverFloorMs: null,
			errors: cells.reduce((sum, c) => sum + c.stats.errors, 0),
			non2xx: summedNon2xx(cells),
		};
	});
}

function summedNon2xx(cells: readonly Cell[]): [string, number][] {
	const counts = new Map<string, number>();
	for (const cell of cells) {
		for (const [code, n] of non2xx(cell.stats.statusCodes)) {
			counts.set(code, (counts.get(code) ?? 0) + n);
		}
	}
	return [...counts];
}

function withFloor(rows: Row[]): Row[] {
	const key = (r: Row) =>
		JSON.stringify([r.machine, r.runtime, r.workers, r.metrics, r.concurrency]);
	const floors = new Map(rows.filter((r) => r.model === FLOOR).map((r) => [key(r), r.p50Ms]));
	return rows.map((row) => {
		const floor = row.model === FLOOR ? null : (floors.get(key(row)) ?? null);
		const over = floor !== null && row.p50Ms !== null ? row.p50Ms - floor : null;
		return { ...row, p50OverFloorMs: over };
	});
}

function serverRows(sources: readonly Source[]): ServerRow[] {
	const runtimes = runtimeOrder(sources);
	const all = sources.flatMap((s) => s.results.processes);
	const workerValues = [...new Set(all.map(workersOf))].sort((a, b) => a - b);
	const metricsValues = [...new Set(all.map(metricsOf))];
	const rows: ServerRow[] = [];
	for (const source of sources) {
		for (const runtime of runtimes) {
			for (const workers of workerValues) {
				for (const metrics of metricsValues) {
					const procs = source.results.processes.filter(
						(p) => p.runtime === runtime && workersOf(p) === workers && metricsOf(p) === metrics,
					);
					if (procs.length > 0) rows.push(serverRow(source.label, procs));
				}
			}
		}
	}
	return rows;
}

function serverRow(machine: string, procs: readonly ProcessRecord[]): ServerRow {
	const first = procs[0] as ProcessRecord;
	const mid = (pick: (p: ProcessRecord) => number | null | undefined) =>
		median(present(procs.map((p) => pick(p) ?? null)));
	return {
		machine,
		runtime: first.runtime,
		workers: workersOf(first),
		metrics: metricsOf(first),
		servers: procs.length,
		processes: mid((p) => p.processCount),
		spawnToReadyMs: mid((p) => p.spawnToReadyMs),
		peakRssKiB: mid((p) => p.peakRssKiB),
		cpuMs: mid((p) => p.cpuMs),
		stopMs: mid((p) => p.stopMs),
		clean: procs.filter((p) => p.exitCode === 0 && !p.killed).length,
	};
}
