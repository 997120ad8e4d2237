import type { LoadGenerator, LoadRequest } from "./loadgen/types.ts";
import type { CellPlan } from "./plan.ts";
import type { MetricsSetting, ProcessRecord } from "./results.ts";
import {
	freePort,
	portInUse,
	type RunningServer,
	ServerError,
	type ServerProgram,
	type StopResult,
	startServer,
} from "./runtimes.ts";

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

/** How a server is configured beyond its runtime: the settings the bench can sweep. */
export interface ServerVariant {
	/** WORKERS. */
	workers: number;
	/** METRICS; null (in files from before --metrics) means the server had no such setting. */
	metrics: MetricsSetting | null;
	/** STAGES=1 (--stages): the server times each prediction by stage (stages.ts). */
	stages?: boolean;
}

/**
 * "node x2" for two workers, "node metrics=off" without metrics, "node (timed)" for the timed twin
 * of --stages, "node" with the defaults.
 */
export const serverName = (
	runtime: string,
	{ workers, metrics, stages = false }: ServerVariant,
): string =>
	`${runtime}${workers === 1 ? "" : ` x${workers}`}${metrics === "off" ? " metrics=off" : ""}${stages ? " (timed)" : ""}`;

/** What measuring reads of a server: a RunningServer, or a --target's stand-in (targetSession). */
export interface MeasuredServer {
	/** The runtime, peer or target name. */
	readonly runtime: string;
	readonly workers: number;
	readonly baseUrl: string;
	readonly running: boolean;
	/** utime+stime so far; null where the bench cannot see the process. */
	cpuMs(): number | null;
	lastOutput(): string;
}

/** A ready server as a bench mode drives it. */
export interface Session<S extends MeasuredServer = RunningServer> {
	readonly server: S;
	readonly variant: ServerVariant;
	/** The runtime, with what differs from the defaults ("node x2", "bun metrics=off"). */
	readonly name: string;
	/** Where one cell's requests go: method, URL and body. */
	target(plan: CellPlan): { method: "GET" | "POST"; url: string; body: string };
	/** The load generator's order: `requests` measured after `warmup` unmeasured. */
	request(plan: CellPlan, requests: number, warmup?: number): LoadRequest;
	/** Throws when the server has died, naming what it died during. */
	assertAlive(during: string): void;
}

function session<S extends MeasuredServer>(
	server: S,
	variant: ServerVariant,
	name: string,
	settings: ServerSettings,
): Session<S> {
	const target = (plan: CellPlan) => ({
		method: plan.method,
		url: `${server.baseUrl}${plan.path}`,
		body: plan.method === "POST" ? (plan.body ?? settings.body) : "",
	});
	return {
		server,
		variant,
		name,
		target,
		request(plan, requests, warmup = 0) {
			const post = plan.method === "POST";
			return {
				url: target(plan).url,
				method: plan.method,
				body: post ? (plan.body ?? settings.body) : undefined,
				contentType: post ? "application/json" : undefined,
				requests,
				concurrency: plan.concurrency,
				cpuList: settings.pinning.generator,
				warmup,
			};
		},
		assertAlive(during) {
			if (!server.running) {
				throw new ServerError(`${name} server died during ${during}: ${server.lastOutput()}`);
			}
		},
	};
}

interface Served<T> {
	/** What `use` returned. */
	result: T;
	stop: StopResult;
	process: ProcessRecord;
}

/**
 * Starts one server (its own port unless --port, ready once /ready answers), hands it to `use`,
 * then stops it and records the process. When `use` throws, the server is stopped with a short
 * grace before the error goes on, so no server outlives a failed bench.
 */
export async function withServer<T>(
	runtime: ServerProgram,
	{ workers, metrics, stages = false }: ServerVariant,
	where: { round: number; tag: string },
	settings: ServerSettings,
	use: (session: Session) => Promise<T>,
): Promise<Served<T>> {
	if (settings.port !== null && (await portInUse(settings.port))) {
		throw new Error(
			`--port ${settings.port}: another server already listens there; stop it or leave --port out`,
		);
	}
	const port = settings.port ?? (await freePort());
	const server = await startServer(runtime, {
		root: settings.root,
		port,
		readyTimeoutMs: settings.readyTimeoutMs,
		cpuList: settings.pinning.server,
		workers,
		// Explicit either way: a STAGES in the bench's own environment must not time a run's servers.
		env: { ...(metrics === null ? {} : { METRICS: metrics }), STAGES: stages ? "1" : "0" },
	});
	const spawnToReadyMs = performance.now() - server.spawnedAt;
	const variant = { workers, metrics, stages };
	const name = serverName(runtime, variant);
	settings.progress(
		`${where.tag} ${name} ready in ${spawnToReadyMs.toFixed(0)} ms on port ${port}`,
	);
	let result: T;
	try {
		result = await use(session(server, variant, name, settings));
	} catch (error) {
		await server.stop(2000);
		throw error;
	}
	const stop = await server.stop();
	warnIfUnclean(name, stop, settings.progress);
	const record = {
		...processRecord(server, where.round, spawnToReadyMs, stop),
		...(metrics === null ? {} : { metrics }),
		...(stages ? { timed: true as const } : {}),
	};
	return { result, stop, process: record };
}

/**
 * Starts the servers one after the other (each ready before the next starts), hands all of them,
 * up at once, to `use`, then stops them in reverse order. Process records come in start order.
 */
export async function withServers<T>(
	runtime: ServerProgram,
	variants: readonly ServerVariant[],
	where: { round: number; tag: string },
	settings: ServerSettings,
	use: (sessions: Session[]) => Promise<T>,
): Promise<{ result: T; processes: ProcessRecord[] }> {
	const nest = async (
		i: number,
		sessions: Session[],
	): Promise<{ result: T; processes: ProcessRecord[] }> => {
		const variant = variants[i];
		if (variant === undefined) return { result: await use(sessions), processes: [] };
		const served = await withServer(runtime, variant, where, settings, (session) =>
			nest(i + 1, [...sessions, session]),
		);
		return {
			result: served.result.result,
			processes: [served.process, ...served.result.processes],
		};
	};
	return nest(0, []);
}

/**
 * A --target's session: nothing is started or stopped, so there is no process to record or read
 * CPU from; its cells' requests go to `origin` plus each cell's path.
 */
export async function withTarget<T>(
	name: string,
	origin: string,
	settings: ServerSettings,
	use: (session: Session<MeasuredServer>) => Promise<T>,
): Promise<{ result: T; processes: ProcessRecord[] }> {
	const server: MeasuredServer = {
		runtime: name,
		workers: 1,
		baseUrl: origin,
		running: true,
		cpuMs: () => null,
		lastOutput: () => "(not started by the bench)",
	};
	return {
		result: await use(session(server, { workers: 1, metrics: null }, name, settings)),
		processes: [],
	};
}

function processRecord(
	server: RunningServer,
	round: number,
	spawnToReadyMs: number,
	stop: StopResult,
): ProcessRecord {
	return {
		runtime: server.runtime,
		round,
		workers: server.workers,
		processCount: stop.processes,
		port: server.port,
		spawnToReadyMs,
		peakRssKiB: stop.peakRssKiB,
		cpuMs: stop.cpuMs,
		exitCode: stop.code,
		exitSignal: stop.signal,
		killed: stop.killed,
		stopMs: stop.stopMs,
	};
}

function warnIfUnclean(name: string, stop: StopResult, progress: (line: string) => void): void {
	if (stop.killed || stop.code !== 0) {
		const how = stop.killed ? "SIGKILLed" : `exit ${stop.code ?? stop.signal}`;
		progress(`warning: ${name} did not shut down cleanly (${how})`);
	}
}
