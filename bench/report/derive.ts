import { cpuPercent } from "../loadgen/types.ts";
import { balancedDiffMs } from "../paired.ts";
import {
	type Cell,
	FLOOR,
	FLOOR_POST,
	isFloor,
	type MetricsSetting,
	metricsOf,
	type Pair,
	type ProcessRecord,
	STAGES,
	type Stage,
	type StageTimes,
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
	/**
	 * p50 minus that of the same server's floor-post row (a POST of the same body, read and
	 * answered with a constant): what our code adds once the body is received. Null for the floors.
	 */
	p50OverFloorPostMs: number | null;
	/** Requests without a response and non-2xx responses, summed over the rounds. */
	errors: number;
	non2xx: [code: string, count: number][];
	/** The load generator's CPU, % of one core over the run, median over the rounds; null if unrecorded. */
	genCpuPct: number | null;
	/** Some round's generator ran at or above GENERATOR_BOUND_PCT: the generator may have been the limit. */
	generatorBound: boolean;
	/**
	 * Host CPU steal on the server's cores over each round's measured run (Cell.hostStealPct):
	 * the median over the rounds that recorded it, and their lowest and highest; null when none did
	 * (results from before it, a --target, no /proc/stat).
	 */
	hostStealPct: number | null;
	hostStealRange: Range | null;
	/**
	 * Per stage, the median over the rounds of the server's p50 (µs), for --stages files from
	 * before the timed servers, where the one server was timed; null otherwise (timedRows).
	 */
	stagesUs: StageTimes | null;
	/**
	 * --stages at concurrency 1: the median over the rounds of the floor-post p50 (µs) measured
	 * beside the prediction in the same run (Cell.floorPostBesideP50Us); null unless every round
	 * has one, so it always covers the same rounds as the prediction's p50.
	 */
	floorPostBesideUs: number | null;
	/**
	 * The median over the rounds of the model-call p50 (µs) over each round's own measured
	 * requests: kept by the server (bench/model-calls.ts) or read from every response's
	 * Server-Timing by the generator; null unless every round has one.
	 */
	modelCallUs: number | null;
}

/** A generator at or above this share of one core is taken as the bottleneck of its cell. */
export const GENERATOR_BOUND_PCT = 90;

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
 * A cell (machine, runtime, workers, model, concurrency) measured with METRICS=on and with
 * METRICS=off. In a paired run (results.pairs) both servers were up at once and one generator run
 * alternated requests between them; runs from before that measured them one after the other and
 * have no paired figures.
 */
export interface MetricsCost {
	machine: string;
	runtime: Cell["runtime"];
	workers: number;
	model: string;
	concurrency: number;
	/** The two rows' p50s (each the median over its rounds) and their difference, on − off. */
	p50OnMs: number | null;
	p50OffMs: number | null;
	p50DiffMs: number | null;
	/** Per round, the median over that round's pairs of on − off (paired runs only). */
	roundPairedMs: number[];
	/** The median of roundPairedMs: the cell's paired figure; null without pairs. */
	pairedMs: number | null;
	/** The lowest and highest round's paired median. */
	pairedRange: Range | null;
	/** Per round, the order-balanced figure (paired.ts, balancedDiffMs). */
	roundBalancedMs: number[];
	/** The median of roundBalancedMs; null without pairs. */
	balancedMs: number | null;
	balancedRange: Range | null;
	/** Pairs summed over the rounds. */
	pairs: number;
}

/** Per runtime (and workers value, concurrency, machine): its cells' paired figures together. */
export interface MetricsCostSummary {
	machine: string;
	runtime: Cell["runtime"];
	workers: number;
	concurrency: number;
	/** Cells with a paired figure. */
	cells: number;
	/** The median over the cells of each cell's p50 difference (p50DiffMs). */
	p50DiffMs: number | null;
	/** The median over those cells of each cell's paired figure (pairedMs); null without one. */
	pairedMs: number | null;
	/** The same for the order-balanced figure (balancedMs). */
	balancedMs: number | null;
	pairs: number;
}

/** The stages of our code once the body is in, the model excepted (route and read are floor-post's too). */
export const OUR_CODE_STAGES = [
	"parse",
	"validate",
	"encode",
	"serialise",
	"respond",
] as const satisfies readonly Stage[];

/**
 * --stages: where one prediction row's time goes, in µs: the server's stage p50s (in-process)
 * beside the client's p50s of the prediction and of the same server's floor cells. Derived from
 * the row's medians over the rounds, so the columns add up.
 */
export interface StageBreakdown
	extends Pick<Row, "machine" | "runtime" | "workers" | "metrics" | "model" | "concurrency"> {
	stagesUs: StageTimes;
	/** The floor row's p50 (GET /health): the runtime's bare HTTP round trip. */
	bareGetUs: number | null;
	/** floor-post p50 − floor p50: what receiving the body adds. */
	bodyReceiptUs: number | null;
	/** The sum of OUR_CODE_STAGES. */
	ourCodeUs: number;
	/** The prediction row's p50. */
	predictionUs: number | null;
	/**
	 * The floor-post p50 own cost subtracts: the one measured beside the prediction in the same
	 * runs when the row has it ("beside"), else the floor-post row's ("cell"); null without either.
	 */
	floorPostUs: number | null;
	floorPostSource: "beside" | "cell" | null;
	/** The row's load generators ("name version"): why a row has no beside figure (oha). */
	generators: string[];
	/**
	 * The model call own cost subtracts: the untimed server's own p50 over the row's requests
	 * (Row.modelCallUs) when it has one ("requests"), else the stage timers' infer ("stages").
	 */
	modelCallUs: number;
	modelCallSource: "requests" | "stages";
	/**
	 * prediction p50 − floor-post p50 − model call: what our code costs beyond the model, on the
	 * untimed server when the run had one beside the timed.
	 */
	ownCostUs: number | null;
	/** own cost − our code: what no timer covers. */
	residualUs: number | null;
	/**
	 * The same own cost on the timed server (its prediction p50 minus the floor-post beside it,
	 * minus infer) less the untimed server's: what the stage timers add. Null without a timed
	 * server beside the row (files from before it) or without floor-post figures.
	 */
	timersUs: number | null;
	/** prediction p50 ÷ floor p50: how far the prediction is from the server's GET /health. */
	timesBareGet: number | null;
	/**
	 * The runtime's bare peer (peers/bare/) on the same prediction, measured as ours beside its own
	 * floor-post: its p50 minus that floor-post's. Null without the peer or its beside figure.
	 */
	barePeerOverFloorPostUs: number | null;
	/**
	 * (prediction − floor-post) on ours minus the same on the bare peer: what Hono, validation and
	 * our handler add, with the runtime's body receipt and the model call on both sides.
	 */
	overBarePeerUs: number | null;
	/**
	 * Host CPU steal over the timed server's measured runs of this cell, which its stage columns
	 * and `timersUs` come from: the median over the rounds that recorded it (Cell.hostStealPct);
	 * null without a timed server beside the row or without figures (results from before either).
	 */
	timedStealPct: number | null;
}

interface Derived {
	rows: Row[];
	stages: StageBreakdown[];
	servers: ServerRow[];
	metricsCost: MetricsCost[];
	metricsSummary: MetricsCostSummary[];
}

export function derive(sources: readonly Source[]): Derived {
	const rows = withFloor(latencyRows(sources));
	const metricsCost = metricsCosts(rows, sources);
	return {
		rows,
		stages: stageBreakdowns(rows, timedRows(sources)),
		servers: serverRows(sources),
		metricsCost,
		metricsSummary: metricsSummaries(metricsCost),
	};
}

/** Every on row that has an off row of the same cell, with the pairs of that cell. */
function metricsCosts(rows: readonly Row[], sources: readonly Source[]): MetricsCost[] {
	const key = (r: Pick<Row, "machine" | "runtime" | "workers" | "model" | "concurrency">) =>
		JSON.stringify([r.machine, r.runtime, r.workers, r.model, r.concurrency]);
	const offRows = new Map(rows.filter((r) => r.metrics === "off").map((r) => [key(r), r]));
	const pairs = new Map<string, Pair[]>();
	for (const source of sources) {
		for (const pair of source.results.pairs ?? []) {
			const k = key({ ...pair, machine: source.label });
			pairs.set(k, [...(pairs.get(k) ?? []), pair]);
		}
	}
	const costs: MetricsCost[] = [];
	for (const on of rows.filter((r) => r.metrics === "on")) {
		const off = offRows.get(key(on));
		if (!off) continue;
		const cellPairs = (pairs.get(key(on)) ?? []).sort((a, b) => a.round - b.round);
		const roundPairedMs = present(cellPairs.map((p) => p.medianDiffMs));
		const roundBalancedMs = present(cellPairs.map(balancedDiffMs));
		const { machine, runtime, workers, model, concurrency } = on;
		costs.push({
			machine,
			runtime,
			workers,
			model,
			concurrency,
			p50OnMs: on.p50Ms,
			p50OffMs: off.p50Ms,
			p50DiffMs: on.p50Ms !== null && off.p50Ms !== null ? on.p50Ms - off.p50Ms : null,
			roundPairedMs,
			pairedMs: median(roundPairedMs),
			pairedRange: rangeOf(roundPairedMs),
			roundBalancedMs,
			balancedMs: median(roundBalancedMs),
			balancedRange: rangeOf(roundBalancedMs),
			pairs: cellPairs.reduce((sum, p) => sum + p.pairs, 0),
		});
	}
	return costs;
}

function metricsSummaries(costs: readonly MetricsCost[]): MetricsCostSummary[] {
	const groups = new Map<string, MetricsCost[]>();
	for (const cost of costs) {
		const k = JSON.stringify([cost.machine, cost.runtime, cost.workers, cost.concurrency]);
		groups.set(k, [...(groups.get(k) ?? []), cost]);
	}
	return [...groups.values()].map((group) => {
		const { machine, runtime, workers, concurrency } = group[0] as MetricsCost;
		const paired = present(group.map((c) => c.pairedMs));
		return {
			machine,
			runtime,
			workers,
			concurrency,
			cells: paired.length,
			p50DiffMs: median(present(group.map((c) => c.p50DiffMs))),
			pairedMs: median(paired),
			balancedMs: median(present(group.map((c) => c.balancedMs))),
			pairs: group.reduce((sum, c) => sum + c.pairs, 0),
		};
	});
}

const present = (values: readonly (number | null)[]): number[] =>
	values.filter((v): v is number => v !== null);

const rangeOf = (values: readonly number[]): Range | null =>
	values.length === 0 ? null : { min: Math.min(...values), max: Math.max(...values) };

/**
 * The cells of each (machine, runtime, workers, metrics, model, concurrency): the untimed ones,
 * or (`timed`) those of --stages' timed servers.
 */
function groupCells(
	sources: readonly Source[],
	timed = false,
): { machine: string; cells: Cell[] }[] {
	const groups = new Map<string, { machine: string; cells: Cell[] }>();
	for (const source of sources) {
		for (const cell of source.results.cells) {
			if ((cell.timed === true) !== timed) continue;
			const key = rowKey({ ...cellKeyOf(cell), machine: source.label });
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
			p50OverFloorPostMs: null,
			errors: cells.reduce((sum, c) => sum + c.stats.errors, 0),
			non2xx: summedNon2xx(cells),
			...generatorLoad(cells),
			...hostSteal(cells),
			stagesUs: stageMedians(cells),
			floorPostBesideUs: besideMedian(cells),
			modelCallUs: ownRequestsMedian(cells),
		};
	});
}

/** Per round the generator's CPU %; a row is bound when any round was (the conservative side). */
function generatorLoad(cells: readonly Cell[]): Pick<Row, "genCpuPct" | "generatorBound"> {
	const pcts = present(cells.map((c) => cpuPercent(c.generatorCpu)));
	return {
		genCpuPct: median(pcts),
		generatorBound: pcts.some((p) => p >= GENERATOR_BOUND_PCT),
	};
}

/** The rounds' host CPU steal: its median and range over the rounds that recorded one. */
function hostSteal(cells: readonly Cell[]): Pick<Row, "hostStealPct" | "hostStealRange"> {
	const pcts = present(cells.map((c) => c.hostStealPct ?? null));
	return { hostStealPct: median(pcts), hostStealRange: rangeOf(pcts) };
}

/**
 * The lowest and highest round's steal over the rows (each row's range): what a table's note
 * quotes as the run's, so a reader sees at once whether the host took much. Null when no row
 * recorded any, which keeps older results' tables as they were.
 */
export function stealSpan(rows: readonly Row[]): Range | null {
	const ranges = rows.flatMap((r) => (r.hostStealRange === null ? [] : [r.hostStealRange]));
	if (ranges.length === 0) return null;
	return { min: Math.min(...ranges.map((r) => r.min)), max: Math.max(...ranges.map((r) => r.max)) };
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

/** Per stage, the median over the cells that have stage timings of their p50s. */
function stageMedians(cells: readonly Cell[]): StageTimes | null {
	const timed = cells.flatMap((c) => (c.stages ? [c.stages.p50Us] : []));
	if (timed.length === 0) return null;
	const entries = STAGES.map((stage) => [stage, median(timed.map((t) => t[stage])) ?? 0]);
	return Object.fromEntries(entries) as StageTimes;
}

/**
 * The median of the model-call p50s over each cell's own measured requests, kept by the server
 * or read from every response's Server-Timing by the generator, when every cell has one.
 */
function ownRequestsMedian(cells: readonly Cell[]): number | null {
	const own = cells.map(({ infer }) =>
		infer.source === "server" || infer.source === "loadgen" ? infer.medianMs : null,
	);
	return own.includes(null) ? null : (median(present(own)) ?? 0) * 1000;
}

/** The median of the cells' floor-post beside figures, when every cell of the row has one. */
function besideMedian(cells: readonly Cell[]): number | null {
	const beside = cells.map((c) => c.floorPostBesideP50Us ?? null);
	return beside.includes(null) ? null : median(present(beside));
}

/** What a timed server (--stages) measured of one cell, over the rounds. */
interface TimedRow {
	stagesUs: StageTimes;
	/** Its prediction p50 minus the floor-post p50 beside it (µs), when it has one. */
	overFloorPostUs: number | null;
	/** Host CPU steal over its measured runs, the median over the rounds that recorded it. */
	hostStealPct: number | null;
}

/** The timed servers' cells (--stages), by rowKey. */
function timedRows(sources: readonly Source[]): Map<string, TimedRow> {
	const found = new Map<string, TimedRow>();
	for (const { machine, cells } of groupCells(sources, true)) {
		const stagesUs = stageMedians(cells);
		if (stagesUs === null) continue;
		const p50Ms = median(present(cells.map((c) => c.stats.p50Ms)));
		const besideUs = besideMedian(cells);
		found.set(rowKey({ ...cellKeyOf(cells[0] as Cell), machine }), {
			stagesUs,
			overFloorPostUs: p50Ms === null || besideUs === null ? null : p50Ms * 1000 - besideUs,
			hostStealPct: hostSteal(cells).hostStealPct,
		});
	}
	return found;
}

/** A cell's place in a row, but for the machine (its source's label). */
const cellKeyOf = (cell: Cell) => ({
	runtime: cell.runtime,
	workers: workersOf(cell),
	metrics: metricsOf(cell),
	model: cell.model,
	concurrency: cell.concurrency,
});

/** A row's cell: machine, runtime, workers, metrics, model, concurrency. */
const rowKey = (
	r: Pick<Row, "machine" | "runtime" | "workers" | "metrics" | "model" | "concurrency">,
) => JSON.stringify([r.machine, r.runtime, r.workers, r.metrics, r.model, r.concurrency]);

/** The server a row was measured on (machine, runtime, workers, metrics) and its concurrency. */
const serverKey = (r: Row): string =>
	JSON.stringify([r.machine, r.runtime, r.workers, r.metrics, r.concurrency]);

/** The rows of one model (a floor), by serverKey. */
const byServer = (rows: readonly Row[], model: string): Map<string, Row> =>
	new Map(rows.filter((r) => r.model === model).map((r) => [serverKey(r), r]));

function withFloor(rows: Row[]): Row[] {
	const floors = byServer(rows, FLOOR);
	const floorPosts = byServer(rows, FLOOR_POST);
	const over = (row: Row, base: Row | undefined) =>
		base?.p50Ms == null || row.p50Ms === null ? null : row.p50Ms - base.p50Ms;
	// floor-post over floor is the runtime's charge for receiving the body: shown on its row.
	return rows.map((row) => ({
		...row,
		p50OverFloorMs: row.model === FLOOR ? null : over(row, floors.get(serverKey(row))),
		p50OverFloorPostMs: isFloor(row.model) ? null : over(row, floorPosts.get(serverKey(row))),
	}));
}

/** Every row with stage timings, beside its server's floors (rows withFloor has completed). */
/** A bare peer's row key: the runtime it stands beside ("node" for node-bare), model, concurrency. */
const bareKey = (machine: string, runtime: string, model: string, concurrency: number) =>
	JSON.stringify([machine, runtime, model, concurrency]);

/** The bare peers' p50 over their floor-post beside it (µs), by bareKey. */
function barePeerOverFloorPost(rows: readonly Row[]): Map<string, number> {
	const found = new Map<string, number>();
	for (const row of rows) {
		if (!row.runtime.endsWith(BARE_SUFFIX) || row.p50Ms === null) continue;
		if (row.floorPostBesideUs === null) continue;
		const runtime = row.runtime.slice(0, -BARE_SUFFIX.length);
		const key = bareKey(row.machine, runtime, row.model, row.concurrency);
		found.set(key, row.p50Ms * 1000 - row.floorPostBesideUs);
	}
	return found;
}

const BARE_SUFFIX = "-bare";

/**
 * Every model row with stage timings: its own (files from before the timed servers, where the one
 * server was timed) or its timed server's. Own cost is the row's: with a timed server beside it,
 * an untimed server's, which answers as production does.
 */
function stageBreakdowns(
	rows: readonly Row[],
	timedRows: ReadonlyMap<string, TimedRow>,
): StageBreakdown[] {
	const bare = barePeerOverFloorPost(rows);
	const floors = byServer(rows, FLOOR);
	const floorPosts = byServer(rows, FLOOR_POST);
	const us = (ms: number | null | undefined) => (ms == null ? null : ms * 1000);
	return rows.flatMap((row) => {
		const { machine, runtime, workers, metrics, model, concurrency } = row;
		const timed = timedRows.get(rowKey(row));
		const stagesUs = row.stagesUs ?? timed?.stagesUs ?? null;
		if (stagesUs === null) return [];
		const ourCodeUs = OUR_CODE_STAGES.reduce((sum, stage) => sum + stagesUs[stage], 0);
		const bareGetUs = us(floors.get(serverKey(row))?.p50Ms);
		const predictionUs = us(row.p50Ms);
		const floorPost = floorPostOf(row, us(floorPosts.get(serverKey(row))?.p50Ms));
		// A row timed itself (results from before the twin) subtracts its own timers' infer.
		const ownCall = row.stagesUs === null ? row.modelCallUs : null;
		const modelCall = ownCall ?? stagesUs.infer;
		const ownCostUs =
			predictionUs === null || floorPost.floorPostUs === null
				? null
				: predictionUs - floorPost.floorPostUs - modelCall;
		return [
			{
				machine,
				runtime,
				workers,
				metrics,
				model,
				concurrency,
				stagesUs,
				bareGetUs,
				bodyReceiptUs: us(floorPosts.get(serverKey(row))?.p50OverFloorMs),
				ourCodeUs,
				predictionUs,
				...floorPost,
				generators: row.generators,
				modelCallUs: modelCall,
				modelCallSource: ownCall === null ? "stages" : "requests",
				ownCostUs,
				residualUs: ownCostUs === null ? null : ownCostUs - ourCodeUs,
				timersUs: timersCost(timed, ownCostUs, stagesUs),
				timedStealPct: timed?.hostStealPct ?? null,
				timesBareGet: bareGetUs && predictionUs !== null ? predictionUs / bareGetUs : null,
				...overBarePeer(
					workers === 1 ? bare.get(bareKey(machine, runtime, model, concurrency)) : undefined,
					predictionUs === null || floorPost.floorPostUs === null
						? null
						: predictionUs - floorPost.floorPostUs,
				),
			},
		];
	});
}

/** The timed server's own cost minus the untimed one's: what the stage timers add. */
function timersCost(
	timed: TimedRow | undefined,
	ownCostUs: number | null,
	stagesUs: StageTimes,
): number | null {
	if (timed?.overFloorPostUs == null || ownCostUs === null) return null;
	return timed.overFloorPostUs - stagesUs.infer - ownCostUs;
}

function overBarePeer(
	bareUs: number | undefined,
	oursUs: number | null,
): Pick<StageBreakdown, "barePeerOverFloorPostUs" | "overBarePeerUs"> {
	if (bareUs === undefined) return { barePeerOverFloorPostUs: null, overBarePeerUs: null };
	return {
		barePeerOverFloorPostUs: bareUs,
		overBarePeerUs: oursUs === null ? null : oursUs - bareUs,
	};
}

/**
 * The floor-post p50 a row's own cost subtracts: the one measured beside the prediction (same
 * runs, same connection, so the same machine state) over the floor-post cell's, which was measured
 * at other moments.
 */
function floorPostOf(
	row: Row,
	cellUs: number | null,
): Pick<StageBreakdown, "floorPostUs" | "floorPostSource"> {
	if (row.floorPostBesideUs !== null) {
		return { floorPostUs: row.floorPostBesideUs, floorPostSource: "beside" };
	}
	return { floorPostUs: cellUs, floorPostSource: cellUs === null ? null : "cell" };
}

function serverRows(sources: readonly Source[]): ServerRow[] {
	const runtimes = runtimeOrder(sources);
	// The timed servers of --stages hold the stage timers' buffers: their figures are not the service's.
	const untimed = (source: Source) => source.results.processes.filter((p) => !p.timed);
	const all = sources.flatMap(untimed);
	const workerValues = [...new Set(all.map(workersOf))].sort((a, b) => a - b);
	const metricsValues = [...new Set(all.map(metricsOf))];
	const rows: ServerRow[] = [];
	for (const source of sources) {
		for (const runtime of runtimes) {
			for (const workers of workerValues) {
				for (const metrics of metricsValues) {
					const procs = untimed(source).filter(
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
