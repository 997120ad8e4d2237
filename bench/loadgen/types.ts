import type { StealWindow } from "../steal.ts";

/** One measured request. Times are microseconds; `startUs` is relative to the run's start. */
export interface Sample {
	startUs: number;
	durationUs: number;
	status: number;
	/** The `infer;dur=` value of the response's Server-Timing header in ms, when it was read. */
	inferMs: number | null;
	/** Which of `LoadRequest.targets` it went to (generators that rotate; 0 without targets). */
	target?: number;
	/** Its place in the measured requests' order of issue (generators that rotate). */
	index?: number;
}

export interface GeneratorInfo {
	name: string;
	version: string;
}

/** The CPU a generator process used over a run (loadgen/cpu.ts; the built-in worker's own). */
export interface GeneratorCpu {
	/** utime+stime of the generator process, ms. */
	cpuMs: number;
	/** Wall time over which it was spent, ms. */
	wallMs: number;
}

/** CPU as a percentage of one core over the wall time; null without both. */
export function cpuPercent(cpu: GeneratorCpu | null | undefined): number | null {
	if (!cpu || cpu.wallMs <= 0) return null;
	return (cpu.cpuMs / cpu.wallMs) * 100;
}

export interface LoadRequest {
	url: string;
	method: "GET" | "POST";
	body?: string;
	contentType?: string;
	requests: number;
	concurrency: number;
	/**
	 * Unmeasured requests first. The built-in generator sends them on the connections it then
	 * measures on; oha cannot, so it makes them a separate run.
	 */
	warmup?: number;
	/** Restricts the generator to these CPU cores (via taskset) when set. */
	cpuList?: string;
	/**
	 * Duration mode: send requests for this long instead of `requests` of them; requests in flight
	 * at the deadline complete and count. (oha: `-z`.)
	 */
	durationMs?: number;
	/**
	 * Rotate over these targets request by request, each sample tagged with its target. They may
	 * be on different servers (the built-in generator keeps one keep-alive connection per server
	 * and lane). Only a generator that takes them (`takesTargets`) may be given them.
	 */
	targets?: { method: "GET" | "POST"; url: string; body: string }[];
	/** With targets, reverse every other cycle: A B, B A, A B, ... (the paired --metrics run). */
	alternate?: boolean;
	/**
	 * With targets, send each this many times in a row before the next (default 1): A A B B A A
	 * ... for 2. Honoured by generators that rotate or interleave routes.
	 */
	block?: number;
	/** Sent once after the warm-up, before the measured requests (sendAfterWarmup). */
	afterWarmup?: AfterWarmup;
	/**
	 * Read host CPU steal on these CPUs (bench/steal.ts; every CPU without a `cpuList`) over the
	 * measured requests only: a snapshot of /proc/stat once the warm-up and `afterWarmup` are done,
	 * another once the last measured request is, given back as LoadResult.hostStealPct. Nothing is
	 * read without it.
	 */
	steal?: StealWindow;
}

/** A request between the warm-up and the measured run, e.g. clearing a server's stage timers. */
export interface AfterWarmup {
	method: string;
	url: string;
}

/**
 * Sends LoadRequest.afterWarmup, untimed, on a connection of its own; anything but a 2xx answer
 * fails the run (a measured run whose server was not reset would mean something else).
 */
export async function sendAfterWarmup(call: AfterWarmup | undefined): Promise<void> {
	if (call === undefined) return;
	const { method, url } = call;
	const response = await fetch(url, { method, signal: AbortSignal.timeout(10_000) }).catch(
		(error: unknown) => {
			throw new Error(`${method} ${url} after the warm-up got no answer (${String(error)})`);
		},
	);
	await response.arrayBuffer();
	if (!response.ok)
		throw new Error(`${method} ${url} after the warm-up answered ${response.status}`);
}

/**
 * What an external generator (oha, h2load) does before its measured run: the warm-up as a
 * separate, unmeasured run of `warmup` requests (at least one per connection; counted, even when
 * the measured run is timed), then LoadRequest.afterWarmup.
 */
export async function warmUpSeparately(
	request: LoadRequest,
	once: (request: LoadRequest) => Promise<unknown>,
): Promise<void> {
	const warmup = request.warmup ?? 0;
	if (warmup > 0) {
		const { durationMs: _, ...counted } = request;
		await once({ ...counted, requests: Math.max(warmup, request.concurrency) });
	}
	await sendAfterWarmup(request.afterWarmup);
}

/** Totals a generator reports itself when it gives no per-request rows (oha's JSON output). */
export interface LoadSummary {
	responses: number;
	statusCodes: Record<string, number>;
	p50Ms: number | null;
	p99Ms: number | null;
	rps: number;
}

export interface LoadResult {
	samples: Sample[];
	/** Requests that never got a response (connection errors, timeouts). */
	errors: number;
	/** `errors` split by target, from generators that rotate. */
	targetErrors?: number[];
	/** The run's elapsed time as the generator saw it, microseconds. */
	wallUs: number;
	generator: GeneratorInfo;
	/** Whether `inferMs` was recorded for the samples. */
	readsServerTiming: boolean;
	/** Set when `samples` is empty because the generator only reported totals. */
	summary?: LoadSummary;
	/** The generator's own CPU over the measured run (warm-up excluded); null when unreadable. */
	cpu?: GeneratorCpu | null;
	/**
	 * Host CPU steal (%) on `LoadRequest.steal`'s CPUs over the measured requests; null when
	 * /proc/stat was unreadable or no tick passed; undefined when not asked for (or a generator
	 * that cannot take it).
	 */
	hostStealPct?: number | null;
}

export interface LoadGenerator {
	readonly info: GeneratorInfo;
	/**
	 * Whether `LoadRequest.targets` is honoured in full: any targets, across servers too, at any
	 * concurrency, `alternate` too (the paired --metrics run and the soak need that).
	 */
	readonly rotates: boolean;
	/**
	 * Whether it can at least interleave routes of one origin: targets that share origin, method
	 * and body, sent one at a time in turn or in blocks (concurrency 1, no `alternate`): h2load given several
	 * URIs. A generator that `rotates` can too.
	 */
	readonly interleavesRoutes: boolean;
	run(request: LoadRequest): Promise<LoadResult>;
}

/**
 * Why `request.targets` are not routes a generator that only `interleavesRoutes` can send; null
 * when they are (or there are none). h2load, the one such generator, takes one `-d` body and one
 * method for all its URIs, and connects to the first URI's origin only.
 */
export function routeInterleaveRefusal(request: LoadRequest): string | null {
	const [first, ...rest] = request.targets ?? [];
	if (first === undefined) return null;
	const origin = (url: string) => new URL(url).origin;
	if (request.concurrency !== 1) return "routes are interleaved at concurrency 1 only";
	if (request.alternate) return "routes are interleaved in plain turn (A B A B), not alternated";
	if (rest.some((t) => origin(t.url) !== origin(first.url))) {
		return "interleaved routes must share one origin";
	}
	if (rest.some((t) => t.method !== first.method || t.body !== first.body)) {
		return "interleaved routes must share method and body";
	}
	return null;
}

/** The target of the request issued `i`-th, rotating over `n` targets `block` requests at a time. */
export const targetInTurn = (i: number, n: number, block = 1): number => Math.floor(i / block) % n;

/** Whether `generator` sends `request.targets` as asked (a request without targets: always). */
export const takesTargets = (
	generator: Pick<LoadGenerator, "rotates" | "interleavesRoutes">,
	request: LoadRequest,
): boolean =>
	(request.targets ?? []).length === 0 ||
	generator.rotates ||
	(generator.interleavesRoutes && routeInterleaveRefusal(request) === null);

/** Parses `infer;dur=0.012` out of a Server-Timing header value. */
export function parseInferMs(header: string | null | undefined): number | null {
	if (!header) return null;
	for (const metric of header.split(",")) {
		const [name, ...params] = metric.trim().split(";");
		if (name?.trim() !== "infer") continue;
		for (const param of params) {
			const [key, value] = param.trim().split("=");
			if (key === "dur" && value !== undefined) {
				const ms = Number(value.replace(/^"|"$/g, ""));
				return Number.isFinite(ms) ? ms : null;
			}
		}
	}
	return null;
}
