import type { MetricsSetting } from "../results.ts";
import { median } from "../stats.ts";
import type { MetricsPair, Row, ServerRow } from "./derive.ts";
import {
	metricsLabel,
	modelOrder,
	runtimeOrder,
	type Source,
	severalMetrics,
	severalWorkers,
} from "./sources.ts";

/** Tables as plain cells, rendered by markdown.ts and terminal.ts alike; they only format. */
export interface Table {
	title: string;
	headers: string[];
	rows: string[][];
	notes: string[];
}

/** Numbers, ranges of numbers ("0.10–0.20") and "-" are right-aligned by both renderers. */
export function numericColumns(table: Table): boolean[] {
	return table.headers.map((_, i) =>
		table.rows.every((r) => /^-?[\d.]+(–[\d.]+)?$|^-$/.test(r[i] ?? "")),
	);
}

const fmtMs = (ms: number | null, digits = 3): string => (ms === null ? "-" : ms.toFixed(digits));

const fmtRange = (range: { min: number; max: number } | null, digits: number): string =>
	range === null ? "-" : `${range.min.toFixed(digits)}–${range.max.toFixed(digits)}`;

type SortKey = "concurrency" | "runtime" | "workers" | "metrics" | "model" | "machine";

/** On before off; runs from before --metrics (null) first. */
const METRICS_RANK = { on: 0, off: 1 } as const;

/** The columns that tell servers of one runtime apart, for the settings a run held several of. */
function variantColumns(items: readonly { workers: number; metrics: MetricsSetting | null }[]): {
	headers: string[];
	values(item: { workers: number; metrics: MetricsSetting | null }): string[];
} {
	const workers = severalWorkers(items);
	const metrics = severalMetrics(items);
	return {
		headers: [...(workers ? ["workers"] : []), ...(metrics ? ["metrics"] : [])],
		values: (item) => [
			...(workers ? [String(item.workers)] : []),
			...(metrics ? [metricsLabel(item.metrics)] : []),
		],
	};
}

function sortRows(rows: readonly Row[], sources: readonly Source[], order: SortKey[]): Row[] {
	const machines = sources.map((s) => s.label);
	const runtimes = runtimeOrder(sources);
	const models = modelOrder(sources);
	const rank = (r: Row, key: SortKey): number => {
		switch (key) {
			case "concurrency":
				return r.concurrency;
			case "runtime":
				return runtimes.indexOf(r.runtime);
			case "workers":
				return r.workers;
			case "metrics":
				return r.metrics === null ? -1 : METRICS_RANK[r.metrics];
			case "model":
				return models.indexOf(r.model);
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

function problems(row: Row): string {
	const parts = [
		...(row.errors > 0 ? [`${row.errors} errors`] : []),
		...row.non2xx.map(([code, n]) => `${n}x${code}`),
	];
	return parts.join(", ");
}

interface Common {
	notes: string[];
	/** More than one generator measured these rows: add a generator column. */
	mixed: boolean;
	/** Some row had errors or non-2xx responses: add a problems column. */
	failing: boolean;
	/** Some row has more than one round: add the rounds' ranges. */
	spread: boolean;
}

function commonNotes(rows: readonly Row[]): Common {
	const generators = [...new Set(rows.flatMap((r) => r.generators))];
	const mixed = generators.length > 1;
	const notes: string[] = [];
	if (mixed) notes.push(`This table mixes load generators: ${generators.join("; ")}.`);
	const failing = rows.some((r) => problems(r) !== "");
	if (failing) {
		notes.push(
			"Some cells had failed or non-2xx requests (summed over their rounds): see the problems column.",
		);
	}
	const rounds = [...new Set(rows.map((r) => r.rounds))].sort((a, b) => a - b);
	const spread = rounds.some((n) => n > 1);
	if (spread) {
		notes.push(
			`Each row summarises its ${rounds.join(" or ")} rounds: every column is the median of the rounds' values (the mean of the middle two for an even count), except Min and Max, the fastest and slowest request of all rounds. "range" columns give the lowest and highest round.`,
		);
	}
	return { notes, mixed, failing, spread };
}

/** The columns every latency-like table ends with, when they apply. */
const tail = (c: Common, row: Row): string[] => [
	...(c.mixed ? [row.generators.join("; ")] : []),
	...(c.failing ? [problems(row)] : []),
];
const tailHeaders = (c: Common): string[] => [
	...(c.mixed ? ["generator"] : []),
	...(c.failing ? ["problems"] : []),
];

/** The main latency tables: lowest concurrency only; the sweep has its own table. */
export function latencyTable(
	rows: readonly Row[],
	sources: readonly Source[],
	by: "runtime" | "model",
): Table {
	const lowest = Math.min(...rows.map((r) => r.concurrency));
	const selected = sortRows(
		rows.filter((r) => r.concurrency === lowest),
		sources,
		by === "model"
			? ["model", "runtime", "workers", "metrics", "machine"]
			: ["runtime", "workers", "metrics", "model", "machine"],
	);
	const merged = sources.length > 1;
	const variant = variantColumns(rows);
	const common = commonNotes(selected);
	const runtimeCols = ["runtime", ...variant.headers];
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
		...(common.spread ? ["p50 range ms"] : []),
		"p99 ms",
		"req/s",
		...(common.spread ? ["req/s range"] : []),
		"p50 over floor ms",
		"infer p50 ms",
		...tailHeaders(common),
	];
	const body = selected.map((row) => {
		const rt = [row.runtime, ...variant.values(row)];
		const names = by === "runtime" ? [...rt, row.model] : [row.model, ...rt];
		return [
			...(merged ? [row.machine] : []),
			...names,
			fmtMs(row.avgMs),
			fmtMs(row.minMs),
			fmtMs(row.maxMs),
			fmtMs(row.totalMs, 1),
			row.varianceMs2 === null ? "-" : row.varianceMs2.toPrecision(3),
			fmtMs(row.p50Ms),
			...(common.spread ? [fmtRange(row.p50Range, 3)] : []),
			fmtMs(row.p99Ms),
			row.rps.toFixed(0),
			...(common.spread ? [fmtRange(row.rpsRange, 0)] : []),
			fmtMs(row.p50OverFloorMs),
			fmtMs(row.inferMs, 4),
			...tail(common, row),
		];
	});
	const notes = [
		`Concurrency ${lowest}, ${selected[0]?.requests ?? 0} requests per cell. "floor" is GET /health; "p50 over floor" is what the model adds to that runtime's bare HTTP round trip (within noise: it can dip below 0 when the two are close).`,
		...common.notes,
	];
	return { title: by === "runtime" ? "By runtime" : "By model", headers, rows: body, notes };
}

/** Only when more than one concurrency or more than one workers value was run. */
export function concurrencyTable(rows: readonly Row[], sources: readonly Source[]): Table | null {
	const workers = severalWorkers(rows);
	if (new Set(rows.map((r) => r.concurrency)).size < 2 && !workers) return null;
	const merged = sources.length > 1;
	const variant = variantColumns(rows);
	const sorted = sortRows(rows, sources, [
		"runtime",
		"model",
		"machine",
		"workers",
		"metrics",
		"concurrency",
	]);
	const common = commonNotes(sorted);
	if (workers) {
		common.notes.push(
			'"workers" is WORKERS: on Node and Bun that many server processes under a supervisor, on Deno that many worker threads in one process, all sharing the port (SO_REUSEPORT).',
		);
	}
	if (sources.some((s) => s.results.environment.pinning.pinned) && workers) {
		common.notes.push(
			"Pinned runs put the server on one core: its workers share that core, so they cannot scale there.",
		);
	}
	return {
		title: workers ? "Concurrency and workers sweep" : "Concurrency sweep",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...variant.headers,
			"model",
			"concurrency",
			"p50 ms",
			"p99 ms",
			"req/s",
			...(common.spread ? ["req/s range"] : []),
			...tailHeaders(common),
		],
		rows: sorted.map((row) => [
			...(merged ? [row.machine] : []),
			row.runtime,
			...variant.values(row),
			row.model,
			String(row.concurrency),
			fmtMs(row.p50Ms),
			fmtMs(row.p99Ms),
			row.rps.toFixed(0),
			...(common.spread ? [fmtRange(row.rpsRange, 0)] : []),
			...tail(common, row),
		]),
		notes: common.notes,
	};
}

/**
 * Only when a run measured servers with METRICS=on and METRICS=off: per runtime and model (lowest
 * concurrency), both p50s, the difference of the two, and the median of the per-round
 * differences; then, per runtime, that median over all of its models' rounds.
 */
export function metricsCostTable(
	rows: readonly Row[],
	pairs: readonly MetricsPair[],
	sources: readonly Source[],
): Table | null {
	if (pairs.length === 0) return null;
	const lowest = Math.min(...pairs.map((p) => p.concurrency));
	const selected = pairs.filter((p) => p.concurrency === lowest);
	const rowOf = (p: MetricsPair, metrics: MetricsSetting) =>
		rows.find(
			(r) =>
				r.metrics === metrics &&
				r.machine === p.machine &&
				r.runtime === p.runtime &&
				r.workers === p.workers &&
				r.model === p.model &&
				r.concurrency === p.concurrency,
		);
	const merged = sources.length > 1;
	const workers = severalWorkers(selected);
	const us = (ms: number | null) => (ms === null ? "-" : (ms * 1000).toFixed(1));
	const lead = (p: MetricsPair, model: string) => [
		...(merged ? [p.machine] : []),
		p.runtime,
		...(workers ? [String(p.workers)] : []),
		model,
	];
	const body: string[][] = [];
	const runtimes = runtimeOrder(sources);
	const machines = sources.map((s) => s.label);
	const ordered = [...selected].sort(
		(a, b) =>
			runtimes.indexOf(a.runtime) - runtimes.indexOf(b.runtime) ||
			a.workers - b.workers ||
			machines.indexOf(a.machine) - machines.indexOf(b.machine),
	);
	for (const group of groupBy(ordered, (p) => JSON.stringify([p.machine, p.runtime, p.workers]))) {
		for (const p of sortPairs(group, sources)) {
			const [on, off] = [rowOf(p, "on"), rowOf(p, "off")];
			const diff = on?.p50Ms != null && off?.p50Ms != null ? on.p50Ms - off.p50Ms : null;
			body.push([
				...lead(p, p.model),
				fmtMs(on?.p50Ms ?? null),
				fmtMs(off?.p50Ms ?? null),
				us(diff),
				us(median(p.roundDiffsMs)),
				fmtRange(on?.p50Range ?? null, 3),
				fmtRange(off?.p50Range ?? null, 3),
			]);
		}
		const all = group.flatMap((p) => p.roundDiffsMs);
		body.push([...lead(group[0] as MetricsPair, "all"), "-", "-", "-", us(median(all)), "-", "-"]);
	}
	return {
		title: "Cost of metrics",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...(workers ? ["workers"] : []),
			"model",
			"p50 on ms",
			"p50 off ms",
			"on − off µs",
			"paired µs",
			"p50 range on ms",
			"p50 range off ms",
		],
		rows: body,
		notes: [
			`Concurrency ${lowest}. The same server with METRICS=on and METRICS=off, started one after the other within each round (the order alternates by round). "on − off" is the difference of the two p50s, each the median over its rounds; "paired" is the median of the differences within each round, which the machine's drift between rounds does not move; the "all" row takes that median over every model's rounds. The range columns show how far a p50 moves from round to round on this machine: a difference well inside them is noise.`,
		],
	};
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
	const groups = new Map<string, T[]>();
	for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
	return [...groups.values()];
}

/** Pairs in the order the sources listed the models. */
function sortPairs(pairs: readonly MetricsPair[], sources: readonly Source[]): MetricsPair[] {
	const models = modelOrder(sources);
	return [...pairs].sort((a, b) => models.indexOf(a.model) - models.indexOf(b.model));
}

/** Per runtime (and workers value, machine): medians over its servers, one per round. */
export function startupTable(servers: readonly ServerRow[], sources: readonly Source[]): Table {
	const merged = sources.length > 1;
	const variant = variantColumns(servers);
	const showProcs = servers.some((s) => (s.processes ?? 1) > 1);
	const rows = servers.map((s) => [
		...(merged ? [s.machine] : []),
		s.runtime,
		...variant.values(s),
		String(s.servers),
		...(showProcs ? [s.processes === null ? "-" : String(s.processes)] : []),
		fmtMs(s.spawnToReadyMs, 0),
		s.peakRssKiB === null ? "-" : (s.peakRssKiB / 1024).toFixed(1),
		fmtMs(s.cpuMs, 0),
		fmtMs(s.stopMs, 0),
		`${s.clean}/${s.servers}`,
	]);
	const notes = [
		"Medians over the servers (one per runtime per round; the mean of the middle two for an even count). Peak RSS is VmHWM and CPU is utime+stime (plus reaped children's), summed over the server's processes: with WORKERS > 1 on Node and Bun, the supervisor and its worker processes (\"procs\"); Deno's workers are threads of its one process. RSS is sampled every second and just before SIGTERM (Linux /proc; '-' elsewhere); the sum of per-process peaks is an upper bound of the tree's simultaneous peak.",
	];
	const unclean = servers.reduce((sum, s) => sum + s.servers - s.clean, 0);
	if (unclean > 0) notes.push(`${unclean} server process(es) did not exit 0 on SIGTERM.`);
	return {
		title: "Startup and memory",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...variant.headers,
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
		`RSS is VmRSS summed over the server's processes (Node/Bun: supervisor and workers; Deno: one process), sampled every second from the start of the load. "RSS @mark" is the first sample at or after ${mark}; "growth" is the peak of the samples from the mark on over it. PASS: growth <= ${(1 + (first?.tolerance ?? 0.1)).toFixed(2)} (the peak after the mark within ${Math.round((first?.tolerance ?? 0.1) * 100)}% of RSS at the mark: a leak grows past that, a warmed heap does not), no errors, every response 2xx.`,
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
