import { FLOOR } from "../options.ts";
import type { Generator } from "../results.ts";
import type { Row, Source } from "./select.ts";

/** Tables as plain cells, rendered by markdown.ts and terminal.ts alike. */
export interface Table {
	title: string;
	headers: string[];
	rows: string[][];
	notes: string[];
}

export const fmtMs = (ms: number | null, digits = 3): string =>
	ms === null ? "-" : ms.toFixed(digits);

const generatorName = (g: Generator) => `${g.name} ${g.version}`;

function orderOf(sources: readonly Source[], pick: (s: Source) => readonly string[]): string[] {
	return [...new Set(sources.flatMap(pick))];
}

type SortKey = "concurrency" | "runtime" | "model" | "machine";

function sortRows(rows: readonly Row[], sources: readonly Source[], order: SortKey[]): Row[] {
	const machines = sources.map((s) => s.label);
	const runtimes = orderOf(sources, (s) => s.results.options.runtimes);
	const models = orderOf(sources, (s) => s.results.options.models);
	const rank = (r: Row, key: SortKey): number => {
		switch (key) {
			case "concurrency":
				return r.cell.concurrency;
			case "runtime":
				return runtimes.indexOf(r.cell.runtime);
			case "model":
				return models.indexOf(r.cell.model);
			case "machine":
				return machines.indexOf(r.machine);
		}
	};
	return [...rows].sort((a, b) => {
		for (const key of order) {
			const d = rank(a, key) - rank(b, key);
			if (d !== 0) return d;
		}
		return 0;
	});
}

/** The p50 of the same machine, runtime and concurrency's floor row. */
function floorP50(rows: readonly Row[], row: Row): number | null {
	const floor = rows.find(
		(r) =>
			r.cell.model === FLOOR &&
			r.machine === row.machine &&
			r.cell.runtime === row.cell.runtime &&
			r.cell.concurrency === row.cell.concurrency,
	);
	return floor?.cell.stats.p50Ms ?? null;
}

function problems(row: Row): string {
	const s = row.cell.stats;
	const bad = Object.entries(s.statusCodes).filter(([code]) => !code.startsWith("2"));
	const parts = [
		...(s.errors > 0 ? [`${s.errors} errors`] : []),
		...bad.map(([c, n]) => `${n}x${c}`),
	];
	return parts.join(", ");
}

function commonNotes(rows: readonly Row[]): { notes: string[]; mixed: boolean; failing: boolean } {
	const generators = [...new Set(rows.map((r) => generatorName(r.cell.generator)))];
	const mixed = generators.length > 1;
	const notes: string[] = [];
	if (mixed) notes.push(`This table mixes load generators: ${generators.join("; ")}.`);
	const failing = rows.some((r) => problems(r) !== "");
	if (failing) notes.push("Some cells had failed or non-2xx requests: see the problems column.");
	const rounds = Math.max(...rows.map((r) => r.rounds));
	if (rounds > 1) notes.push(`Each row is the median round (by p50) of ${rounds} rounds.`);
	return { notes, mixed, failing };
}

/** The main latency tables: lowest concurrency only; the sweep has its own table. */
export function latencyTable(
	rows: readonly Row[],
	sources: readonly Source[],
	by: "runtime" | "model",
): Table {
	const lowest = Math.min(...rows.map((r) => r.cell.concurrency));
	const selected = sortRows(
		rows.filter((r) => r.cell.concurrency === lowest),
		sources,
		by === "model" ? ["model", "runtime", "machine"] : ["runtime", "model", "machine"],
	);
	const merged = sources.length > 1;
	const { notes, mixed, failing } = commonNotes(selected);
	const first = by === "runtime" ? ["runtime", "model"] : ["model", "runtime"];
	const headers = [
		...(merged ? ["machine"] : []),
		...first,
		"Avg ms",
		"Min ms",
		"Max ms",
		"Total ms",
		"Variance ms²",
		"p50 ms",
		"p99 ms",
		"req/s",
		"p50 over floor ms",
		"infer p50 ms",
		...(mixed ? ["generator"] : []),
		...(failing ? ["problems"] : []),
	];
	const body = selected.map((row) => {
		const { cell } = row;
		const s = cell.stats;
		const floor = cell.model === FLOOR ? null : floorP50(rows, row);
		const names = by === "runtime" ? [cell.runtime, cell.model] : [cell.model, cell.runtime];
		return [
			...(merged ? [row.machine] : []),
			...names,
			fmtMs(s.avgMs),
			fmtMs(s.minMs),
			fmtMs(s.maxMs),
			fmtMs(s.totalMs, 1),
			s.varianceMs2 === null ? "-" : s.varianceMs2.toPrecision(3),
			fmtMs(s.p50Ms),
			fmtMs(s.p99Ms),
			s.rps.toFixed(0),
			floor !== null && s.p50Ms !== null ? fmtMs(s.p50Ms - floor) : "-",
			fmtMs(cell.infer.medianMs, 4),
			...(mixed ? [generatorName(cell.generator)] : []),
			...(failing ? [problems(row)] : []),
		];
	});
	notes.unshift(
		`Concurrency ${lowest}, ${selected[0]?.cell.requests ?? 0} requests per cell. "floor" is GET /health; "p50 over floor" is what the model adds to that runtime's bare HTTP round trip (within noise: it can dip below 0 when the two are close).`,
	);
	return { title: by === "runtime" ? "By runtime" : "By model", headers, rows: body, notes };
}

/** Only when more than one concurrency was run. */
export function concurrencyTable(rows: readonly Row[], sources: readonly Source[]): Table | null {
	if (new Set(rows.map((r) => r.cell.concurrency)).size < 2) return null;
	const merged = sources.length > 1;
	const sorted = sortRows(rows, sources, ["runtime", "model", "machine", "concurrency"]);
	const { notes, mixed, failing } = commonNotes(sorted);
	return {
		title: "Concurrency sweep",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			"model",
			"concurrency",
			"p50 ms",
			"p99 ms",
			"req/s",
			...(mixed ? ["generator"] : []),
			...(failing ? ["problems"] : []),
		],
		rows: sorted.map((row) => [
			...(merged ? [row.machine] : []),
			row.cell.runtime,
			row.cell.model,
			String(row.cell.concurrency),
			fmtMs(row.cell.stats.p50Ms),
			fmtMs(row.cell.stats.p99Ms),
			row.cell.stats.rps.toFixed(0),
			...(mixed ? [generatorName(row.cell.generator)] : []),
			...(failing ? [problems(row)] : []),
		]),
		notes,
	};
}

const median = (values: number[]): number | null => {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[(sorted.length - 1) >> 1] as number;
};

/** Per runtime (and machine): medians over the server processes of every round. */
export function startupTable(sources: readonly Source[]): Table {
	const merged = sources.length > 1;
	const runtimes = orderOf(sources, (s) => s.results.options.runtimes);
	const rows: string[][] = [];
	let unclean = 0;
	for (const source of sources) {
		for (const runtime of runtimes) {
			const procs = source.results.processes.filter((p) => p.runtime === runtime);
			if (procs.length === 0) continue;
			const pick = (f: (p: (typeof procs)[number]) => number | null) =>
				median(procs.flatMap((p) => (f(p) === null ? [] : [f(p) as number])));
			const rss = pick((p) => p.peakRssKiB);
			const cpu = pick((p) => p.cpuMs);
			const clean = procs.filter((p) => p.exitCode === 0 && !p.killed).length;
			unclean += procs.length - clean;
			rows.push([
				...(merged ? [source.label] : []),
				runtime,
				String(procs.length),
				fmtMs(
					pick((p) => p.spawnToReadyMs),
					0,
				),
				rss === null ? "-" : (rss / 1024).toFixed(1),
				cpu === null ? "-" : fmtMs(cpu, 0),
				fmtMs(
					pick((p) => p.stopMs),
					0,
				),
				`${clean}/${procs.length}`,
			]);
		}
	}
	const notes = [
		"Medians over the server processes (one per runtime per round). Peak RSS is VmHWM and CPU is utime+stime of the server process, read just before SIGTERM (Linux /proc; '-' elsewhere).",
	];
	if (unclean > 0) notes.push(`${unclean} server process(es) did not exit 0 on SIGTERM.`);
	return {
		title: "Startup and memory",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			"processes",
			"spawn to ready ms",
			"peak RSS MiB",
			"CPU ms",
			"stop ms",
			"clean exit",
		],
		rows,
		notes,
	};
}
