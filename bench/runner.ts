import { besideRequest, splitBeside } from "./beside.ts";
import { type LoadRequest, type LoadResult, type Sample, takesTargets } from "./loadgen/types.ts";
import { clearModelCalls, readModelCalls } from "./model-calls.ts";
import { apportionWallUs, balancedDiffMs, pairFigures, samplesOf } from "./paired.ts";
import { type CellPlan, type Launch, rotate, type ServerPlan } from "./plan.ts";
import { checkCells } from "./precheck.ts";
import { serverSuffix, writeRawCsv } from "./raw.ts";
import {
	type Cell,
	isFloor,
	metricsOf,
	type Pair,
	type ProcessRecord,
	workersOf,
} from "./results.ts";
import { sampleInferMs } from "./server-timing.ts";
import {
	type MeasuredServer,
	type ServerSettings,
	type Session,
	serverName,
	withServers,
	withTarget,
} from "./session.ts";
import { checkStages, clearStages, isStagedModel, readStages } from "./stages.ts";
import { computeStats, median, non2xx } from "./stats.ts";
import type { StealWindow } from "./steal.ts";

interface RunSettings extends ServerSettings {
	requests: number;
}

/**
 * The CPUs whose host steal the generator reads over each cell's measured requests
 * (LoadRequest.steal): the server's cores as the bench pinned them (`cpuList`), every CPU when not
 * pinned; none for a --target, whose cores, maybe on another machine, are not the bench's to read.
 */
export function hostCpuOf(launch: Launch, cpuList: string | undefined): StealWindow | null {
	if ("origin" in launch) return null;
	return cpuList === undefined ? {} : { cpuList };
}

export interface RunOutput {
	processes: ProcessRecord[];
	cells: Cell[];
	/** Paired runs (--metrics on,off) only: per cell and round, what the pairing gives. */
	pairs?: Pair[];
}

export async function runPlan(
	plan: readonly ServerPlan[],
	settings: RunSettings,
): Promise<RunOutput> {
	const output: RunOutput = { processes: [], cells: [] };
	const pairs: Pair[] = [];
	const rounds = Math.max(...plan.map((s) => s.round));
	for (const serverPlan of plan) {
		const { round } = serverPlan;
		const tag = `[round ${round}/${rounds}]`;
		const variants = serverPlan.metrics.map((metrics) => ({
			workers: serverPlan.workers,
			metrics,
			stages: serverPlan.stages ?? false,
		}));
		const measure = (sessions: Session<MeasuredServer>[]) =>
			measureServer(serverPlan, sessions, tag, settings, pairs);
		// A target is already running: nothing to start, stop or read process stats from.
		const { launch } = serverPlan;
		const served =
			"origin" in launch
				? await withTarget(serverPlan.runtime, launch.origin, settings, (s) => measure([s]))
				: await withServers(launch.program, variants, { round, tag }, settings, measure);
		output.cells.push(...served.result);
		output.processes.push(...served.processes);
	}
	return pairs.length > 0 ? { ...output, pairs } : output;
}

/** Every cell of one server plan on its ready server(s); a pair's figures go to `pairs`. */
async function measureServer(
	serverPlan: ServerPlan,
	sessions: readonly Session<MeasuredServer>[],
	tag: string,
	settings: RunSettings,
	pairs: Pair[],
): Promise<Cell[]> {
	const { round } = serverPlan;
	// Every kind of request is served before any is measured, and each round starts at a
	// different cell: otherwise whichever cell came first paid for the runtime's still-warming
	// JIT and heap (measured on Node: the first model's p50 was 1.2-1.5x its later self).
	const cells = rotate(serverPlan.cells, round - 1);
	for (const session of sessions) {
		await checkCells(session, cells);
		if (session.variant.stages) await checkStages(session);
	}
	await warmUp(sessions, cells, settings);
	const steal = hostCpuOf(serverPlan.launch, settings.pinning.server);
	const measured: Cell[] = [];
	for (const cellPlan of cells) {
		const [a, b] = sessions as [Session<MeasuredServer>, Session<MeasuredServer>?];
		if (b !== undefined) {
			const paired = await measurePair(a, b, round, cellPlan, settings, steal);
			measured.push(...paired.cells);
			pairs.push(paired.pair);
			for (const cell of paired.cells) settings.progress(`${tag} ${progressLine(cell)}`);
			settings.progress(`${tag} ${pairLine(paired.pair)}`);
		} else {
			const beside = serverPlan.beside === true && !isFloor(cellPlan.model);
			const cell = await measureCell(a, round, cellPlan, settings, { beside, steal });
			measured.push(cell);
			settings.progress(`${tag} ${progressLine(cell)}`);
		}
	}
	return measured;
}

/**
 * One run over both servers' targets, alternating A B, B A, ... (see paired.ts); `requests` and
 * `warmup` are per server.
 */
export function pairedRequest(
	a: Session<MeasuredServer>,
	b: Session<MeasuredServer>,
	plan: CellPlan,
	requests: number,
	warmup = 0,
): LoadRequest {
	return {
		...a.request(plan, requests * 2, warmup * 2),
		targets: [a.target(plan), b.target(plan)],
		alternate: true,
	};
}

/** Sends each cell's warm-up requests once, unmeasured, before the first measured cell. */
async function warmUp(
	sessions: readonly Session<MeasuredServer>[],
	cells: readonly CellPlan[],
	settings: RunSettings,
): Promise<void> {
	if (settings.warmup <= 0) return;
	const [a, b] = sessions;
	for (const plan of cells) {
		const request =
			b === undefined
				? (a as Session<MeasuredServer>).request(plan, settings.warmup)
				: pairedRequest(a as Session, b, plan, settings.warmup);
		await settings.generator.run(request);
	}
}

/** What one server's share of a generator run was. */
interface Measured {
	samples: Sample[];
	errors: number;
	wallUs: number;
	cpuMs: number | null;
	/** The model call as the server kept it (bench/model-calls.ts); else Server-Timing's. */
	infer?: Cell["infer"];
	/** Host CPU steal on the server's cores over the run; undefined where not read (a target). */
	hostStealPct?: number | null;
}

/** `request` asking its generator for host CPU steal on `steal`'s CPUs, when there are any. */
const withSteal = (request: LoadRequest, steal: StealWindow | null): LoadRequest =>
	steal === null ? request : { ...request, steal };

/**
 * The steal the generator read over its measured requests; null when asked and not given (no
 * /proc/stat, no tick, a generator that cannot); undefined when not asked (a --target's cell).
 */
const stealOf = (result: LoadResult, steal: StealWindow | null): number | null | undefined =>
	steal === null ? undefined : (result.hostStealPct ?? null);

/**
 * One cell's generator run. --stages, a prediction cell: the server's timers cleared after the
 * warm-up and read before anything else is sent; at concurrency 1 floor-post is sent beside the
 * prediction in the same run (beside.ts) when the generator can interleave the two routes (oha
 * cannot: there the floor-post cell's p50 stands in, as the report says). Host CPU steal on
 * `steal`'s CPUs is the generator's, read over the measured requests alone (LoadRequest.steal).
 */
export async function measureCell(
	session: Session<MeasuredServer>,
	round: number,
	plan: CellPlan,
	settings: RunSettings,
	{ beside, steal }: { beside: boolean; steal: StealWindow | null },
): Promise<Cell> {
	const { server } = session;
	const staged = session.variant.stages === true && isStagedModel(plan.model);
	const calls = keepsModelCalls(session, plan, beside);
	const ordered = cellRequest(session, plan, settings, { staged, beside, calls });
	const { interleaved } = ordered;
	const request = withSteal(ordered.request, steal);
	const cpuBefore = server.cpuMs();
	const result = await settings.generator.run(request);
	const cpuAfter = server.cpuMs();
	session.assertAlive(plan.model);
	const stages = staged ? await readStages(session, plan.model) : null;
	const infer = calls ? await readModelCalls(session, plan.model) : null;
	if (staged && stages === null) {
		settings.progress(
			`warning: ${session.name} timed no ${plan.model} prediction (GET /bench/stages)`,
		);
	}
	const cpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
	const { samples, errors, wallUs } = result;
	const { floorPostP50Us, ...measured } = interleaved
		? splitBeside(result)
		: { samples, errors, wallUs, floorPostP50Us: null };
	const cell = await cellOf(session, round, plan, settings, request, result, {
		...measured,
		cpuMs,
		...(infer === null ? {} : { infer }),
		hostStealPct: stealOf(result, steal),
	});
	return {
		...cell,
		...(stages === null ? {} : { stages }),
		...(floorPostP50Us === null ? {} : { floorPostBesideP50Us: floorPostP50Us }),
	};
}

/**
 * --stages, a model cell of our runtime's untimed server (METRICS=on): the server keeps the
 * model-call times of the cell's requests (bench/model-calls.ts).
 */
const keepsModelCalls = (session: Session<MeasuredServer>, plan: CellPlan, beside: boolean) =>
	beside &&
	!session.variant.stages &&
	session.variant.metrics === "on" &&
	isStagedModel(plan.model);

/** The generator's order for one cell, and whether it interleaves floor-post (beside.ts). */
export function cellRequest(
	session: Session<MeasuredServer>,
	plan: CellPlan,
	settings: Pick<RunSettings, "generator" | "requests" | "warmup">,
	{ staged, beside: wanted, calls = false }: { staged: boolean; beside: boolean; calls?: boolean },
): { request: LoadRequest; interleaved: boolean } {
	const beside =
		wanted && plan.concurrency === 1
			? besideRequest(session, plan, settings.requests, settings.warmup)
			: null;
	const interleaved = beside !== null && takesTargets(settings.generator, beside);
	const base = interleaved
		? (beside as LoadRequest)
		: session.request(plan, settings.requests, settings.warmup);
	const afterWarmup = staged ? clearStages(session) : calls ? clearModelCalls(session) : null;
	const request = afterWarmup === null ? base : { ...base, afterWarmup };
	return { request, interleaved };
}

/**
 * Both servers of a pair in one generator run: each gets its own cell (its samples, errors, CPU
 * and raw file, as if measured alone), and the pair its per-pair differences. Both servers run on
 * the same cores, so both cells get the one steal figure of the run (its measured requests).
 */
export async function measurePair(
	a: Session<MeasuredServer>,
	b: Session<MeasuredServer>,
	round: number,
	plan: CellPlan,
	settings: RunSettings,
	steal: StealWindow | null,
): Promise<{ cells: [Cell, Cell]; pair: Pair }> {
	if (!settings.generator.rotates) {
		throw new Error(`${settings.generator.info.name} cannot alternate requests between servers`);
	}
	if (plan.concurrency !== 1) throw new Error("paired cells run at concurrency 1");
	const request = withSteal(pairedRequest(a, b, plan, settings.requests, settings.warmup), steal);
	const cpu = () => [a.server.cpuMs(), b.server.cpuMs()];
	const before = cpu();
	const result = await settings.generator.run(request);
	const after = cpu();
	const hostStealPct = stealOf(result, steal);
	a.assertAlive(plan.model);
	b.assertAlive(plan.model);
	const sides = [a, b].map((session, target) => {
		const samples = samplesOf(result.samples, target);
		const [x, y] = [before[target] ?? null, after[target] ?? null];
		return cellOf(session, round, plan, settings, request, result, {
			samples,
			errors: result.targetErrors?.[target] ?? 0,
			wallUs: apportionWallUs(result.wallUs, samples, result.samples),
			cpuMs: x !== null && y !== null ? y - x : null,
			hostStealPct,
		});
	});
	const first = a.variant.metrics ?? "on";
	const onTarget = first === "on" ? 0 : 1;
	const pair: Pair = {
		runtime: a.server.runtime,
		workers: a.server.workers,
		model: plan.model,
		concurrency: plan.concurrency,
		round,
		first,
		...pairFigures(result.samples, onTarget),
	};
	return { cells: [await sides[0], await sides[1]] as [Cell, Cell], pair };
}

async function cellOf(
	session: Session<MeasuredServer>,
	round: number,
	plan: CellPlan,
	settings: RunSettings,
	request: LoadRequest,
	result: LoadResult,
	measured: Measured,
): Promise<Cell> {
	const { server } = session;
	const name = `${server.runtime}${serverSuffix(session.variant)}-${fileSafe(plan.model)}-c${plan.concurrency}-r${round}`;
	return {
		runtime: server.runtime,
		model: plan.model,
		concurrency: plan.concurrency,
		workers: server.workers,
		metrics: session.variant.metrics ?? undefined,
		round,
		requests: settings.requests,
		warmup: settings.warmup,
		generator: result.generator,
		stats: computeStats(measured.samples, measured.errors, measured.wallUs),
		infer:
			measured.infer ??
			(await inferTiming(
				{ ...request, url: session.target(plan).url },
				measured.samples,
				result.readsServerTiming,
				plan.model,
			)),
		serverCpuMs: measured.cpuMs,
		generatorCpu: result.cpu ?? null,
		...(measured.hostStealPct === undefined ? {} : { hostStealPct: measured.hostStealPct }),
		rawFile: writeRawCsv(settings.outDir, name, measured.samples),
		...(session.variant.stages ? { timed: true as const } : {}),
	};
}

/** A model as part of a file name: a target's model is its URL path ("/predict" -> "predict"). */
const fileSafe = (model: string): string =>
	model.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]+/g, "_") || "root";

async function inferTiming(
	request: LoadRequest,
	samples: readonly Sample[],
	readsServerTiming: boolean,
	model: string,
): Promise<Cell["infer"]> {
	if (isFloor(model)) return { medianMs: null, count: 0, source: "none" };
	if (readsServerTiming) {
		const values = samples.flatMap((s) => (s.inferMs === null ? [] : [s.inferMs]));
		return { medianMs: median(values), count: values.length, source: "loadgen" };
	}
	const sample = await sampleInferMs(request.url, request);
	return { ...sample, source: "sample" };
}

function progressLine(cell: Cell): string {
	const s = cell.stats;
	const fmt = (ms: number | null) => (ms === null ? "-" : `${ms.toFixed(3)} ms`);
	const beside = cell.floorPostBesideP50Us;
	const floorPost = beside === undefined ? "" : ` (floor-post beside it ${fmt(beside / 1000)})`;
	const errors = s.errors > 0 ? `  ${s.errors} errors` : "";
	const steal = cell.hostStealPct == null ? "" : `  steal ${cell.hostStealPct.toFixed(1)}%`;
	const bad = non2xx(s.statusCodes)
		.map(([code, n]) => `  ${n}x${code}`)
		.join("");
	const runtime = serverName(cell.runtime, {
		workers: workersOf(cell),
		metrics: metricsOf(cell),
		stages: cell.timed,
	});
	return `${runtime.padEnd(4)} ${cell.model.padEnd(9)} c=${cell.concurrency}  ${s.count} resp  p50 ${fmt(s.p50Ms)}${floorPost}  p99 ${fmt(s.p99Ms)}  ${s.rps.toFixed(0)} req/s${steal}${errors}${bad}`;
}

function pairLine(pair: Pair): string {
	const us = (ms: number | null) => (ms === null ? "-" : `${(ms * 1000).toFixed(1)} µs`);
	return `${pair.runtime} ${pair.model.padEnd(9)} paired on − off: median ${us(pair.medianDiffMs)} over ${pair.pairs} pairs (quartiles ${us(pair.p25DiffMs)}, ${us(pair.p75DiffMs)}); on first ${us(pair.onFirstMedianDiffMs)}, off first ${us(pair.offFirstMedianDiffMs)}, balanced ${us(balancedDiffMs(pair))}`;
}
