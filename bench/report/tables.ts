import { FLOOR } from "../options.ts";
import { type Generator, workersOf } from "../results.ts";
import { type Row, type Source, severalWorkers } from "./select.ts";

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

type SortKey = "concurrency" | "runtime" | "workers" | "model" | "machine";

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
			case "workers":
				return workersOf(r.cell);
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
			workersOf(r.cell) === workersOf(row.cell) &&
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
		by === "model"
			? ["model", "runtime", "workers", "machine"]
			: ["runtime", "workers", "model", "machine"],
	);
	const merged = sources.length > 1;
	const workers = severalWorkers(rows.map((r) => r.cell));
	const { notes, mixed, failing } = commonNotes(selected);
	const runtimeCols = workers ? ["runtime", "workers"] : ["runtime"];
	const first = by === "runtime" ? [...runtimeCols, "model"] : ["model", ...runtimeCols];
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
		const rt = workers ? [cell.runtime, String(workersOf(cell))] : [cell.runtime];
		const names = by === "runtime" ? [...rt, cell.model] : [cell.model, ...rt];
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

/** Only when more than one concurrency or more than one workers value was run. */
export function concurrencyTable(rows: readonly Row[], sources: readonly Source[]): Table | null {
	const workers = severalWorkers(rows.map((r) => r.cell));
	if (new Set(rows.map((r) => r.cell.concurrency)).size < 2 && !workers) return null;
	const merged = sources.length > 1;
	const sorted = sortRows(rows, sources, ["runtime", "model", "machine", "workers", "concurrency"]);
	const { notes, mixed, failing } = commonNotes(sorted);
	if (workers) {
		notes.push(
			'"workers" is WORKERS: on Node and Bun that many server processes under a supervisor, on Deno that many worker threads in one process, all sharing the port (SO_REUSEPORT).',
		);
	}
	if (sources.some((s) => s.results.environment.pinning.pinned) && workers) {
		notes.push(
			"Pinned runs put the server on one core: its workers share that core, so they cannot scale there.",
		);
	}
	return {
		title: workers ? "Concurrency and workers sweep" : "Concurrency sweep",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...(workers ? ["workers"] : []),
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
			...(workers ? [String(workersOf(row.cell))] : []),
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
	const allProcs = sources.flatMap((s) => s.results.processes);
	const workers = severalWorkers(allProcs);
	const workerValues = [...new Set(allProcs.map(workersOf))].sort((a, b) => a - b);
	const showProcs = allProcs.some((p) => (p.processCount ?? 1) > 1);
	const rows: string[][] = [];
	let unclean = 0;
	for (const source of sources) {
		for (const [runtime, w] of runtimes.flatMap((r) => workerValues.map((v) => [r, v] as const))) {
			const procs = source.results.processes.filter(
				(p) => p.runtime === runtime && workersOf(p) === w,
			);
			if (procs.length === 0) continue;
			const pick = (f: (p: (typeof procs)[number]) => number | null) =>
				median(procs.flatMap((p) => (f(p) === null ? [] : [f(p) as number])));
			const rss = pick((p) => p.peakRssKiB);
			const cpu = pick((p) => p.cpuMs);
			const clean = procs.filter((p) => p.exitCode === 0 && !p.killed).length;
			unclean += procs.length - clean;
			const counted = pick((p) => p.processCount ?? null);
			rows.push([
				...(merged ? [source.label] : []),
				runtime,
				...(workers ? [String(w)] : []),
				String(procs.length),
				...(showProcs ? [counted === null ? "-" : String(counted)] : []),
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
		"Medians over the servers (one per runtime per round). Peak RSS is VmHWM and CPU is utime+stime (plus reaped children's), summed over the server's processes: with WORKERS > 1 on Node and Bun, the supervisor and its worker processes (\"procs\"); Deno's workers are threads of its one process. RSS is sampled every second and just before SIGTERM (Linux /proc; '-' elsewhere); the sum of per-process peaks is an upper bound of the tree's simultaneous peak.",
	];
	if (unclean > 0) notes.push(`${unclean} server process(es) did not exit 0 on SIGTERM.`);
	return {
		title: "Startup and memory",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...(workers ? ["workers"] : []),
			"servers",
			...(showProcs ? ["procs"] : []),
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

const mib = (kib: number | null) => (kib === null ? "-" : (kib / 1024).toFixed(1));

/** The --soak runs: one row per runtime (and workers value, and machine). */
export function soakTable(sources: readonly Source[]): Table | null {
	const soaks = sources.flatMap((s) =>
		s.results.soak ? [{ source: s, soak: s.results.soak }] : [],
	);
	if (soaks.length === 0) return null;
	const merged = sources.length > 1;
	const workers = severalWorkers(soaks.flatMap(({ soak }) => soak.runs));
	const rows: string[][] = [];
	for (const { source, soak } of soaks) {
		for (const run of soak.runs) {
			const s = run.stats;
			const codes = Object.entries(s.statusCodes)
				.map(([code, n]) => `${code}:${n}`)
				.join(" ");
			rows.push([
				...(merged ? [source.label] : []),
				run.runtime,
				...(workers ? [String(run.workers)] : []),
				String(s.requests),
				String(s.errors),
				codes || "-",
				s.rps.toFixed(0),
				fmtMs(s.p50Ms),
				fmtMs(s.p99Ms),
				mib(run.rssAtMarkKiB),
				mib(run.rssEndKiB),
				mib(run.peakRssKiB),
				mib(run.peakAfterMarkKiB),
				run.growth === null ? "-" : run.growth.toFixed(3),
				run.pass ? "PASS" : "FAIL",
			]);
		}
	}
	const first = soaks[0]?.soak;
	const mark = `${(first?.markMs ?? 10_000) / 1000} s`;
	const notes = soaks.map(
		({ source, soak }) =>
			`${merged ? `${source.label}: ` : ""}${soak.durationMs / 1000} s of load per server at concurrency ${soak.concurrency}, requests rotating over ${soak.models.join(", ")}${soak.models.length > 1 ? " (request by request)" : ""}; ${soak.runs[0]?.generator.name ?? "?"} generator.`,
	);
	notes.push(
		`RSS is VmRSS summed over the server's processes (Node/Bun: supervisor and workers; Deno: one process), sampled every second from the start of the load. "RSS @mark" is the first sample at or after ${mark}; "growth" is the peak of the samples from the mark on over it. PASS: growth <= ${(1 + (first?.tolerance ?? 0.1)).toFixed(2)} (the issue's "peak RSS after 60 s within 10% of RSS after 10 s"), no errors, every response 2xx.`,
	);
	return {
		title: "Soak",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...(workers ? ["workers"] : []),
			"requests",
			"errors",
			"status codes",
			"req/s",
			"p50 ms",
			"p99 ms",
			`RSS @${mark.replace(" ", "")} MiB`,
			"RSS end MiB",
			"peak RSS MiB",
			"peak after mark MiB",
			"growth",
			"verdict",
		],
		rows,
		notes,
	};
}
