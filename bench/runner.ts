import type { LoadRequest, Sample } from "./loadgen/types.ts";
import { type CellPlan, rotate, type ServerPlan } from "./plan.ts";
import { serverSuffix, writeRawCsv } from "./raw.ts";
import { type Cell, FLOOR, metricsOf, type ProcessRecord, workersOf } from "./results.ts";
import { sampleInferMs } from "./server-timing.ts";
import { type ServerSettings, type Session, serverName, withServer } from "./session.ts";
import { computeStats, median, non2xx } from "./stats.ts";

interface RunSettings extends ServerSettings {
	requests: number;
}

export interface RunOutput {
	processes: ProcessRecord[];
	cells: Cell[];
}

export async function runPlan(
	plan: readonly ServerPlan[],
	settings: RunSettings,
): Promise<RunOutput> {
	const output: RunOutput = { processes: [], cells: [] };
	const rounds = Math.max(...plan.map((s) => s.round));
	for (const serverPlan of plan) {
		const { round } = serverPlan;
		const tag = `[round ${round}/${rounds}]`;
		const served = await withServer(
			serverPlan.runtime,
			serverPlan,
			{ round, tag },
			settings,
			async (session) => {
				// Every kind of request is served before any is measured, and each round starts at a
				// different cell: otherwise whichever cell came first paid for the runtime's still-warming
				// JIT and heap (measured on Node: the first model's p50 was 1.2-1.5x its later self).
				const cells = rotate(serverPlan.cells, round - 1);
				await warmUpServer(session, cells, settings);
				const measured: Cell[] = [];
				for (const cellPlan of cells) {
					const cell = await measureCell(session, round, cellPlan, settings);
					measured.push(cell);
					settings.progress(`${tag} ${progressLine(cell)}`);
				}
				return measured;
			},
		);
		output.cells.push(...served.result);
		output.processes.push(served.process);
	}
	return output;
}

/** Sends each cell's warm-up requests once, unmeasured, before the first measured cell. */
async function warmUpServer(
	session: Session,
	cells: readonly CellPlan[],
	settings: RunSettings,
): Promise<void> {
	if (settings.warmup <= 0) return;
	for (const plan of cells) {
		await settings.generator.run(session.request(plan, settings.warmup));
	}
}

async function measureCell(
	session: Session,
	round: number,
	plan: CellPlan,
	settings: RunSettings,
): Promise<Cell> {
	const { server } = session;
	const request = session.request(plan, settings.requests, settings.warmup);
	const cpuBefore = server.cpuMs();
	const result = await settings.generator.run(request);
	const cpuAfter = server.cpuMs();
	session.assertAlive(plan.model);
	const name = `${server.runtime}${serverSuffix(session.variant)}-${plan.model}-c${plan.concurrency}-r${round}`;
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
		stats: computeStats(result.samples, result.errors, result.wallUs),
		infer: await inferTiming(request, result.samples, result.readsServerTiming, plan.model),
		serverCpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
		rawFile: writeRawCsv(settings.outDir, name, result.samples),
	};
}

async function inferTiming(
	request: LoadRequest,
	samples: readonly Sample[],
	readsServerTiming: boolean,
	model: string,
): Promise<Cell["infer"]> {
	if (model === FLOOR) return { medianMs: null, count: 0, source: "none" };
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
	const errors = s.errors > 0 ? `  ${s.errors} errors` : "";
	const bad = non2xx(s.statusCodes)
		.map(([code, n]) => `  ${n}x${code}`)
		.join("");
	const runtime = serverName(cell.runtime, { workers: workersOf(cell), metrics: metricsOf(cell) });
	return `${runtime.padEnd(4)} ${cell.model.padEnd(9)} c=${cell.concurrency}  ${s.count} resp  p50 ${fmt(s.p50Ms)}  p99 ${fmt(s.p99Ms)}  ${s.rps.toFixed(0)} req/s${errors}${bad}`;
}
