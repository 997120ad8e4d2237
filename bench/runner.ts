import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadGenerator, LoadRequest, Sample } from "./loadgen/types.ts";
import { FLOOR } from "./options.ts";
import type { CellPlan, ServerPlan } from "./plan.ts";
import type { Cell, ProcessRecord } from "./results.ts";
import { freePort, type RunningServer, ServerError, startServer } from "./runtimes.ts";
import { sampleInferMs } from "./server-timing.ts";
import { computeStats, median } from "./stats.ts";

/** What every bench mode needs to start servers and drive load. */
export interface ServerSettings {
	root: string;
	outDir: string;
	generator: LoadGenerator;
	warmup: number;
	body: string;
	readyTimeoutMs: number;
	port: number | null;
	pinning: { server?: string; generator?: string };
	progress: (line: string) => void;
}

export interface RunSettings extends ServerSettings {
	requests: number;
}

export interface RunOutput {
	processes: ProcessRecord[];
	cells: Cell[];
}

/** " x2" for two workers, "" for one. */
export const workersTag = (workers: number): string => (workers === 1 ? "" : ` x${workers}`);

export const RAW_CSV_HEADER = "start_us,duration_us,status,infer_ms";

export function rawCsv(samples: readonly Sample[]): string {
	const lines = [RAW_CSV_HEADER];
	for (const s of samples) {
		lines.push(`${s.startUs.toFixed(3)},${s.durationUs.toFixed(3)},${s.status},${s.inferMs ?? ""}`);
	}
	return `${lines.join("\n")}\n`;
}

export async function runPlan(
	plan: readonly ServerPlan[],
	settings: RunSettings,
): Promise<RunOutput> {
	const output: RunOutput = { processes: [], cells: [] };
	const rounds = Math.max(...plan.map((s) => s.round));
	for (const serverPlan of plan) {
		const port = settings.port ?? (await freePort());
		const server = await startServer(serverPlan.runtime, {
			root: settings.root,
			port,
			readyTimeoutMs: settings.readyTimeoutMs,
			cpuList: settings.pinning.server,
			workers: serverPlan.workers,
		});
		const spawnToReadyMs = performance.now() - server.spawnedAt;
		settings.progress(
			`[round ${serverPlan.round}/${rounds}] ${server.runtime}${workersTag(serverPlan.workers)} ready in ${spawnToReadyMs.toFixed(0)} ms on port ${port}`,
		);
		try {
			// Every kind of request is served before any is measured, and each round starts at a
			// different cell: otherwise whichever cell came first paid for the runtime's still-warming
			// JIT and heap (measured on Node: the first model's p50 was 1.2-1.5x its later self).
			const cells = rotate(serverPlan.cells, serverPlan.round - 1);
			await warmUpServer(server, cells, settings);
			for (const cellPlan of cells) {
				const cell = await measureCell(server, serverPlan.round, cellPlan, settings);
				output.cells.push(cell);
				settings.progress(progressLine(cell, rounds));
			}
		} catch (error) {
			await server.stop(2000);
			throw error;
		}
		const stop = await server.stop();
		output.processes.push(processRecord(server, serverPlan.round, port, spawnToReadyMs, stop));
		warnIfUnclean(`${server.runtime}${workersTag(serverPlan.workers)}`, stop, settings.progress);
	}
	return output;
}

type StopResult = Awaited<ReturnType<RunningServer["stop"]>>;

/** What results.json records of one server process once it has stopped. */
export function processRecord(
	server: RunningServer,
	round: number,
	port: number,
	spawnToReadyMs: number,
	stop: StopResult,
): ProcessRecord {
	return {
		runtime: server.runtime,
		round,
		workers: server.workers,
		processCount: stop.processes,
		port,
		spawnToReadyMs,
		peakRssKiB: stop.peakRssKiB,
		cpuMs: stop.cpuMs,
		exitCode: stop.code,
		exitSignal: stop.signal,
		killed: stop.killed,
		stopMs: stop.stopMs,
	};
}

export function warnIfUnclean(name: string, stop: StopResult, progress: (line: string) => void) {
	if (stop.killed || stop.code !== 0) {
		const how = stop.killed ? "SIGKILLed" : `exit ${stop.code ?? stop.signal}`;
		progress(`warning: ${name} did not shut down cleanly (${how})`);
	}
}

function rotate<T>(items: readonly T[], by: number): T[] {
	const shift = items.length === 0 ? 0 : by % items.length;
	return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Sends each cell's warm-up requests once, unmeasured, before the first measured cell. */
async function warmUpServer(
	server: RunningServer,
	cells: readonly CellPlan[],
	settings: RunSettings,
): Promise<void> {
	if (settings.warmup <= 0) return;
	for (const plan of cells) {
		await settings.generator.run(loadRequest(server, plan, settings, settings.warmup, 0));
	}
}

/** The load generator's order for one cell: `requests` measured after `warmup` unmeasured. */
function loadRequest(
	server: RunningServer,
	plan: CellPlan,
	settings: RunSettings,
	requests: number,
	warmup: number,
): LoadRequest {
	const post = plan.method === "POST";
	return {
		url: `${server.baseUrl}${plan.path}`,
		method: plan.method,
		body: post ? settings.body : undefined,
		contentType: post ? "application/json" : undefined,
		requests,
		concurrency: plan.concurrency,
		cpuList: settings.pinning.generator,
		warmup,
	};
}

async function measureCell(
	server: RunningServer,
	round: number,
	plan: CellPlan,
	settings: RunSettings,
): Promise<Cell> {
	const request = loadRequest(server, plan, settings, settings.requests, settings.warmup);
	const cpuBefore = server.cpuMs();
	const result = await settings.generator.run(request);
	const cpuAfter = server.cpuMs();
	if (server.child.exitCode !== null || server.child.signalCode !== null) {
		throw new ServerError(
			`${server.runtime} server died during ${plan.model}: ${server.lastOutput()}`,
		);
	}
	const stats = computeStats(result.samples, result.errors, result.wallUs);
	// Named as before for one worker, so old and new folders line up.
	const w = server.workers === 1 ? "" : `-w${server.workers}`;
	const rawFile = `raw/${server.runtime}${w}-${plan.model}-c${plan.concurrency}-r${round}.csv`;
	writeFileSync(join(settings.outDir, rawFile), rawCsv(result.samples));
	return {
		runtime: server.runtime,
		model: plan.model,
		concurrency: plan.concurrency,
		workers: server.workers,
		round,
		requests: settings.requests,
		warmup: settings.warmup,
		generator: result.generator,
		stats,
		infer: await inferTiming(request, result.samples, result.readsServerTiming, plan.model),
		serverCpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
		rawFile,
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

function progressLine(cell: Cell, rounds: number): string {
	const s = cell.stats;
	const fmt = (ms: number | null) => (ms === null ? "-" : `${ms.toFixed(3)} ms`);
	const errors = s.errors > 0 ? `  ${s.errors} errors` : "";
	const non2xx = Object.entries(s.statusCodes)
		.filter(([code]) => !code.startsWith("2"))
		.map(([code, n]) => `  ${n}x${code}`)
		.join("");
	const runtime = `${cell.runtime}${workersTag(cell.workers ?? 1)}`;
	return `[round ${cell.round}/${rounds}] ${runtime.padEnd(4)} ${cell.model.padEnd(9)} c=${cell.concurrency}  ${s.count} resp  p50 ${fmt(s.p50Ms)}  p99 ${fmt(s.p99Ms)}  ${s.rps.toFixed(0)} req/s${errors}${non2xx}`;
}
