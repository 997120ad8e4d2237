import { FLOOR_POST, type MetricsSetting, STAGES } from "../results.ts";
import {
	GENERATOR_BOUND_PCT,
	type MetricsCost,
	type MetricsCostSummary,
	OUR_CODE_STAGES,
	type Row,
	type ServerRow,
	type StageBreakdown,
	stealSpan,
} from "./derive.ts";
import {
	metricsLabel,
	modelOrder,
	outsideNotes,
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

/** µs to one decimal; differences straddle 0, and a tiny negative one would print as "-0.0". */
const fmtUs = (us: number | null): string =>
	us === null ? "-" : us.toFixed(1).replace(/^-(0\.0)$/, "$1");

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

function sortRows<T extends Pick<Row, SortKey>>(
	rows: readonly T[],
	sources: readonly Source[],
	order: SortKey[],
): T[] {
	const machines = sources.map((s) => s.label);
	const runtimes = runtimeOrder(sources);
	const models = modelOrder(sources);
	const rank = (r: T, key: SortKey): number => {
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
	/** Some row recorded host CPU steal: add its column(s). */
	steal: boolean;
}

function commonNotes(rows: readonly Row[], sources: readonly Source[]): Common {
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
	notes.push(generatorCpuNote(rows, spread));
	const span = stealSpan(rows);
	if (span !== null) notes.push(stealNote(span, sources, spread));
	return { notes, mixed, failing, spread, steal: span !== null };
}

/**
 * What "steal %" is, over which CPUs, and the lowest and highest round over the table's cells: on
 * a shared VM the host's load moves the figures as much as the code does, and this says when.
 */
function stealNote(
	span: { min: number; max: number },
	sources: readonly Source[],
	spread: boolean,
): string {
	const pinnings = sources.map((s) => s.results.environment.pinning);
	const pinned = pinnings.filter((p) => p.pinned);
	const cores =
		pinned.length === pinnings.length
			? `the server's cores (${[...new Set(pinned.map((p) => p.note))].join("; ")})`
			: pinned.length === 0
				? "all of the machine's CPUs (the server was not pinned)"
				: "the server's cores where it was pinned, else all of the machine's CPUs";
	const rounds = spread
		? ', the median over the rounds ("steal range %": the lowest and highest round)'
		: "";
	const range =
		fmtPct(span.min) === fmtPct(span.max)
			? fmtPct(span.min)
			: `${fmtPct(span.min)}–${fmtPct(span.max)}`;
	return `"steal %" is host CPU steal: of the CPU time of ${cores}, over each cell's measured requests (warm-up excluded), the share the hypervisor gave to something else while this VM wanted to run (/proc/stat, in 10 ms ticks, so a short run's figure is coarse)${rounds}; "-" where it was not recorded. In these cells: ${range}%. A cell with high steal measured the host as much as the runtime.`;
}

const fmtPct = (pct: number): string => pct.toFixed(1);

/** What `gen CPU %` is, and what a generator-bound row means when there is one. */
function generatorCpuNote(rows: readonly Row[], spread: boolean): string {
	const what = `"gen CPU %" is the load generator's own utime+stime over its measured run's wall time, as a share of one core ("-" where it was not recorded).`;
	if (!rows.some((r) => r.generatorBound)) return what;
	const when = spread ? "had a round whose generator used" : "had a generator using";
	return `${what} Rows marked "generator-bound" ${when} ${GENERATOR_BOUND_PCT}% of a core or more: the generator, not the server, may have set their latency and req/s, so read them as a bound on the server, not a measure of it.`;
}

/** "37", "97 (generator-bound)", or "-" for results that did not record it. */
const genCpu = (row: Row): string =>
	row.genCpuPct === null
		? "-"
		: `${row.genCpuPct.toFixed(0)}${row.generatorBound ? " (generator-bound)" : ""}`;

/** The columns every latency-like table ends with, when they apply. */
const tail = (c: Common, row: Row): string[] => [
	genCpu(row),
	...(c.steal ? [row.hostStealPct === null ? "-" : fmtPct(row.hostStealPct)] : []),
	...(c.steal && c.spread ? [fmtRange(row.hostStealRange, 1)] : []),
	...(c.mixed ? [row.generators.join("; ")] : []),
	...(c.failing ? [problems(row)] : []),
];
const tailHeaders = (c: Common): string[] => [
	"gen CPU %",
	...(c.steal ? ["steal %"] : []),
	...(c.steal && c.spread ? ["steal range %"] : []),
	...(c.mixed ? ["generator"] : []),
	...(c.failing ? ["problems"] : []),
];

const FLOOR_POST_NOTE =
	'"floor-post" POSTs the same body to a bench-only route (BENCH_ROUTES=1) that reads it whole and answers a constant: its "p50 over floor" is what the runtime charges for receiving a body, and a model\'s "p50 over floor-post" is what our code adds once the body is in (parsing, validation, preprocessing, the model, the answer).';

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
	const common = commonNotes(selected, sources);
	const withPost = selected.some((r) => r.model === FLOOR_POST);
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
		...(withPost ? ["p50 over floor-post ms"] : []),
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
			...(withPost ? [fmtMs(row.p50OverFloorPostMs)] : []),
			fmtMs(row.inferMs, 4),
			...tail(common, row),
		];
	});
	const notes = [
		`Concurrency ${lowest}, ${selected[0]?.requests ?? 0} requests per cell. "floor" is GET /health; "p50 over floor" is what the model adds to that runtime's bare HTTP round trip (within noise: it can dip below 0 when the two are close).`,
		...(withPost ? [FLOOR_POST_NOTE] : []),
		...common.notes,
		...outsideNotes(sources),
	];
	return { title: by === "runtime" ? "By runtime" : "By model", headers, rows: body, notes };
}

const STAGES_NOTE = `"route" runs from the app's fetch entry to the handler's (Hono's routing and context), "read" is the header checks and awaiting the body's bytes, "parse" UTF-8 decoding and JSON.parse, "validate" the check compiled from the zod schema (zod itself for what the check does not accept), "encode" the preprocessing into the Float32Array, "infer" the model call, "serialise" building the answer's JSON text, "respond" constructing the Response. "our code" is ${OUR_CODE_STAGES.join(" + ")} (route and read are paid by floor-post too). "own cost" is prediction p50 − floor-post p50 − the model call ("model call" where the table has that column, else "infer"): what a prediction costs beyond receiving its body and the model. "residual" is own cost − our code: what no timer covers. "x floor" is prediction p50 ÷ floor. A sum of p50s is not the p50 of the sum, so the residual can come out below 0, as can any difference of medians (body receipt, own cost, timers, ours over bare peer) where its two sides are within noise.`;

const ONE_TIMED_SERVER =
	"The stage timers add about nine performance.now() calls to each prediction, which its p50 includes.";
const TWIN = `Each runtime ran two servers, one after the other: an untimed one, which answers as production does, and a timed one (STAGES=1). The stage columns are the timed server's; "prediction p50", "floor-post", "own cost" and "x floor" the untimed server's, so the timers' own cost is in none of them. "timers" is the timed server's own cost (its prediction p50 − the floor-post beside it − infer) minus the untimed server's: what the nine performance.now() calls and their recording add.`;

/**
 * Where the stage columns and the client's p50s come from: one timed server (runs from before
 * the twin) or two; a merge of both kinds says which runs are which.
 */
function timersNotes(sources: readonly Source[]): string[] {
	const staged = sources.filter((source) => source.results.cells.some((cell) => cell.stages));
	const twin = staged.filter((source) => source.results.cells.some((cell) => cell.timed));
	const single = staged.filter((source) => !twin.includes(source));
	if (single.length === 0) return [TWIN];
	if (twin.length === 0) return [ONE_TIMED_SERVER];
	const names = (group: readonly Source[]) => group.map((source) => source.label).join(", ");
	return [
		`${names(twin)}: ${TWIN}`,
		`${names(single)}: one timed server, from before the twin. ${ONE_TIMED_SERVER}`,
	];
}

/** Which model call own cost subtracted, when some row had the untimed server's own. */
function modelCallNote(breakdowns: readonly StageBreakdown[]): string {
	const note = `"model call" is the model-call p50 own cost subtracts: the untimed server's own over the cell's measured requests (kept by the server, which with BENCH_ROUTES=1 and metrics on serves the times its metrics take, or read from every response's Server-Timing by the generator), the median over the rounds; not the twin's "infer", measured at another moment. So own cost = prediction p50 − floor-post − model call.`;
	const without = breakdowns.filter((b) => b.modelCallSource === "stages");
	if (without.length === 0) return note;
	return `${note} Rows without it (METRICS=off with a generator that cannot read headers, results from before it) subtract the stage timers' "infer", which their "model call" repeats.`;
}

/**
 * Only for runs with --stages: per runtime and model, the server's stage p50s (in-process, µs)
 * between the client's p50s of the floors and of the prediction.
 */
export function stagesTable(
	breakdowns: readonly StageBreakdown[],
	sources: readonly Source[],
): Table | null {
	if (breakdowns.length === 0) return null;
	const merged = sources.length > 1;
	const variant = variantColumns(breakdowns);
	const swept = new Set(breakdowns.map((b) => b.concurrency)).size > 1;
	const sorted = sortRows(breakdowns, sources, [
		"runtime",
		"workers",
		"metrics",
		"model",
		"machine",
		"concurrency",
	]);
	const stageHeader = (stage: string) =>
		stage === "infer" ? "infer (in-process) µs" : `${stage} µs`;
	const floorPost = floorPostNote(breakdowns);
	const withBare = breakdowns.some((b) => b.barePeerOverFloorPostUs !== null);
	const withTimers = breakdowns.some((b) => b.timersUs !== null);
	const withCalls = breakdowns.some((b) => b.modelCallSource === "requests");
	const withSteal = breakdowns.some((b) => b.timedStealPct !== null);
	const rows = sorted.map((b) => [
		...(merged ? [b.machine] : []),
		b.runtime,
		...variant.values(b),
		b.model,
		...(swept ? [String(b.concurrency)] : []),
		...[b.bareGetUs, b.bodyReceiptUs, ...STAGES.map((stage) => b.stagesUs[stage])].map(fmtUs),
		...[b.ourCodeUs, b.residualUs, b.predictionUs, b.floorPostUs].map(fmtUs),
		...(floorPost.mixed ? [b.floorPostSource ?? "-"] : []),
		...(withCalls ? [fmtUs(b.modelCallUs)] : []),
		fmtUs(b.ownCostUs),
		...(withTimers ? [fmtUs(b.timersUs)] : []),
		b.timesBareGet === null ? "-" : b.timesBareGet.toFixed(2),
		...(withBare ? [fmtUs(b.barePeerOverFloorPostUs), fmtUs(b.overBarePeerUs)] : []),
		...(withSteal ? [b.timedStealPct === null ? "-" : fmtPct(b.timedStealPct)] : []),
	]);
	const lowest = sorted[0]?.concurrency ?? 1;
	const notes = [
		`${swept ? "Each concurrency run" : `Concurrency ${lowest}`}, µs. Each stage column is the median over the rounds of the server's p50 for that stage over the cell's measured predictions (STAGES=1: timed in-process with performance.now(), the timers cleared after the cell's warm-up); "floor" is the floor cell's p50 (GET /health), "body receipt" the floor-post cell's p50 minus it, "prediction p50" the model cell's, all client side and each the median over the rounds, as in the latency tables. The derived columns are computed from those medians.`,
		floorPost.note,
		STAGES_NOTE,
		...timersNotes(sources),
		...(withCalls ? [modelCallNote(breakdowns)] : []),
	];
	if (withBare) notes.push(BARE_PEER_NOTE);
	if (withSteal) notes.push(TIMED_STEAL_NOTE);
	if (breakdowns.some((b) => b.bareGetUs === null || b.bodyReceiptUs === null)) {
		notes.push(
			'"-": the run had no floor or floor-post cell on that server to compute the column from (add them to --models).',
		);
	}
	// Recorded only when given: their presence means the run had some.
	if (sources.some(({ results: { options } }) => options.peers || options.targets)) {
		notes.push("Peers and targets have no stage timers: only our runtimes have rows here.");
	}
	return {
		title: "Where a prediction's time goes (p50, µs)",
		headers: [
			...(merged ? ["machine"] : []),
			"runtime",
			...variant.headers,
			"model",
			...(swept ? ["concurrency"] : []),
			"floor µs",
			"body receipt µs",
			...STAGES.map(stageHeader),
			"our code µs",
			"residual µs",
			"prediction p50 µs",
			"floor-post µs",
			...(floorPost.mixed ? ["floor-post from"] : []),
			...(withCalls ? ["model call µs"] : []),
			"own cost µs",
			...(withTimers ? ["timers µs"] : []),
			"x floor",
			...(withBare ? ["bare peer over floor-post µs", "ours over bare peer µs"] : []),
			...(withSteal ? ["timed steal %"] : []),
		],
		rows,
		notes,
	};
}

const TIMED_STEAL_NOTE = `"timed steal %" is the host CPU steal over the timed server's measured requests of the row's cell, which its stage columns and "timers" come from (the median over the rounds; "-" where it was not recorded); the untimed server's, which the client columns come from, is the latency tables' "steal %".`;

const BARE_PEER_NOTE = `"bare peer over floor-post" is the same prediction on the runtime's bare peer (peers/bare/: the runtime's own HTTP server, the service's model layer and answer bytes, JSON.parse without validation, no framework), its p50 minus the p50 of its own floor-post sent beside it, as ours are: the least a server on that runtime pays for the prediction beyond receiving the body, the model call included. "ours over bare peer" is (prediction p50 − floor-post) on ours minus that: what Hono, validation and our handler add. The two servers are measured at different moments, each against its own floor-post.`;

const BESIDE_SOURCE =
	"not the latency table's floor-post cell (its 'p50 over floor-post' subtracts that one) but the one measured beside the prediction: each round, the cell's one generator run sent POST /bench/floor-post (the same body) and the prediction one at a time on one connection in blocks of up to 100 (100 floor-posts, 100 predictions, ...; warm-up included), so both p50s met the same machine state and each request followed one of its own kind; the median over the rounds of those runs' floor-post p50s";

/**
 * Which floor-post p50 own cost subtracted, and why a row has none measured beside it: the
 * interleaved run is made at concurrency 1 only, with a generator that can send two routes in
 * turn (oha sends one URL per run), and by benches that have it.
 */
function floorPostNote(breakdowns: readonly StageBreakdown[]): { note: string; mixed: boolean } {
	const fromCell = breakdowns.filter((b) => b.floorPostSource === "cell");
	const beside = breakdowns.some((b) => b.floorPostSource === "beside");
	const reasons = new Set<string>();
	for (const b of fromCell) {
		if (b.concurrency > 1) reasons.add("above concurrency 1 it is not measured beside");
		else if (b.generators.some((g) => g.startsWith("oha "))) {
			reasons.add("oha sends one URL per run, so it cannot send the two in blocks");
		} else reasons.add("results from before floor-post was measured beside the prediction");
	}
	const cell = `the floor-post cell's p50, measured in runs of its own at other moments (${[...reasons].join("; ")})`;
	const mixed = beside && fromCell.length > 0;
	if (mixed) {
		return {
			mixed,
			note: `"floor-post" is the floor-post p50 own cost subtracts, and "floor-post from" says which: "beside", ${BESIDE_SOURCE}; "cell", ${cell}.`,
		};
	}
	const which = beside ? BESIDE_SOURCE : fromCell.length > 0 ? cell : "none (no floor-post cell)";
	return { mixed, note: `"floor-post" is the floor-post p50 own cost subtracts: ${which}.` };
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
	const common = commonNotes(sorted, sources);
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
 * concurrency), both p50s, the difference of the two and the paired figure; then per runtime the
 * median of its cells' paired figures.
 */
export function metricsCostTable(
	costs: readonly MetricsCost[],
	summaries: readonly MetricsCostSummary[],
	sources: readonly Source[],
): Table | null {
	if (costs.length === 0) return null;
	const lowest = Math.min(...costs.map((c) => c.concurrency));
	const selected = costs.filter((c) => c.concurrency === lowest);
	const merged = sources.length > 1;
	const workers = severalWorkers(selected);
	const paired = selected.some((c) => c.pairedMs !== null);
	const spread = selected.some((c) => c.roundPairedMs.length > 1);
	const us = (ms: number | null) => fmtUs(ms === null ? null : ms * 1000);
	const usRange = (range: { min: number; max: number } | null) =>
		range === null ? "-" : `${us(range.min)}–${us(range.max)}`;
	const lead = (c: { machine: string; runtime: string; workers: number }, model: string) => [
		...(merged ? [c.machine] : []),
		c.runtime,
		...(workers ? [String(c.workers)] : []),
		model,
	];
	const runtimes = runtimeOrder(sources);
	const models = modelOrder(sources);
	const machines = sources.map((s) => s.label);
	const group = (c: { machine: string; runtime: string; workers: number }) =>
		JSON.stringify([c.machine, c.runtime, c.workers]);
	const ordered = [...selected].sort(
		(a, b) =>
			runtimes.indexOf(a.runtime) - runtimes.indexOf(b.runtime) ||
			a.workers - b.workers ||
			machines.indexOf(a.machine) - machines.indexOf(b.machine) ||
			models.indexOf(a.model) - models.indexOf(b.model),
	);
	const body: string[][] = [];
	for (const [i, c] of ordered.entries()) {
		body.push([
			...lead(c, c.model),
			fmtMs(c.p50OnMs),
			fmtMs(c.p50OffMs),
			us(c.p50DiffMs),
			...(paired ? [us(c.pairedMs)] : []),
			...(paired && spread ? [usRange(c.pairedRange)] : []),
			...(paired ? [us(c.balancedMs)] : []),
			...(paired && spread ? [usRange(c.balancedRange)] : []),
			...(paired ? [String(c.pairs)] : []),
		]);
		const next = ordered[i + 1];
		if (!paired || (next && group(next) === group(c))) continue;
		const summary = summaries.find((s) => group(s) === group(c) && s.concurrency === c.concurrency);
		body.push([
			...lead(c, "all"),
			"-",
			"-",
			us(summary?.p50DiffMs ?? null),
			us(summary?.pairedMs ?? null),
			...(spread ? ["-"] : []),
			us(summary?.balancedMs ?? null),
			...(spread ? ["-"] : []),
			String(summary?.pairs ?? 0),
		]);
	}
	const notes = paired
		? [
				`Concurrency ${lowest}. Per runtime and round, the server with METRICS=on and the one with METRICS=off were up at once, and per cell one generator run alternated requests between them, one at a time (A B, B A, A B, ...; warm-up excluded). "on − off" is the difference of the two p50s, each the median over its rounds. "paired" is the median over the cell's pairs (two requests sent back to back, one to each server) of on − off: per round, then the median over the rounds${spread ? ' ("paired range": the lowest and highest round)' : ""}; "balanced" is the mean of two such medians, one over the pairs where the on server went first and one over those where the off server did: in that sequence the first request of a pair always goes to the server that served the request before it, which is faster on a busy machine, so the pooled per-pair differences form two clusters and their median is unstable, while the balanced figure cancels that effect (per round, then the median over the rounds${spread ? ", with its range" : ""}). "pairs" counts the pairs over all rounds (both responses 2xx). The "all" rows are the median over the runtime's cells of their figures (on − off, paired, balanced).`,
			]
		: [
				`Concurrency ${lowest}. These servers were measured one after the other (a run from before paired runs), so there is no paired figure: on − off compares p50s taken at different times, and a difference smaller than a p50's movement between rounds (the latency tables' range column) is noise.`,
			];
	for (const source of sources) {
		const note = source.results.environment.generatorNote;
		if (note) notes.push(`${merged ? `${source.label}: ` : ""}${note}.`);
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
			...(paired ? ["paired µs"] : []),
			...(paired && spread ? ["paired range µs"] : []),
			...(paired ? ["balanced µs"] : []),
			...(paired && spread ? ["balanced range µs"] : []),
			...(paired ? ["pairs"] : []),
		],
		rows: body,
		notes,
	};
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
