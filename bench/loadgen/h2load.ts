import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findOnPath, runCollect } from "../processes.ts";
import { wallUsOf } from "../stats.ts";
import { type HostCpuReader, openSteal, readCpuTicks, type StealWindow } from "../steal.ts";
import { runMeasured } from "./cpu.ts";
import {
	type GeneratorInfo,
	type LoadGenerator,
	type LoadRequest,
	type LoadResult,
	routeInterleaveRefusal,
	type Sample,
	targetInTurn,
	warmUpSeparately,
} from "./types.ts";

/**
 * nghttp2's h2load in HTTP/1.1 mode, one thread, its `--log-file` read per request: start time
 * (µs since the epoch), status (-1 for a request that failed), µs from the request being queued
 * on its connection (after connect) to the end of the response.
 */

export class H2loadError extends Error {}

/**
 * h2load 1.52.0's duration mode (-D, with or without --warm-up-time) sent no request at all over
 * HTTP/1.1 against the bench's servers ("requests: 0 total"), so the soak does not use it.
 */
export const H2LOAD_NO_DURATION =
	"--soak needs a duration mode, and h2load's (-D) sends no requests over HTTP/1.1: use --loadgen builtin or oha";

/** The flags this adapter relies on; an h2load without them is refused by name. */
const REQUIRED_FLAGS = ["--h1", "--log-file"] as const;

/** "h2load nghttp2/1.52.0" -> "1.52.0"; null when the text has no version. */
export function parseH2loadVersion(text: string): string | null {
	return /nghttp2\/(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? null;
}

/** Files the run reads and writes: the POST body (`-d` takes a file) and the per-request log. */
interface RunFiles {
	log: string;
	body: string;
}

/**
 * `--h1 -n N -c C -m 1 -t 1`: N requests over C keep-alive connections, one request in flight per
 * connection (no pipelining), one thread, so its CPU is one core's worth at most.
 *
 * With `targets` (routes of one origin, routeInterleaveRefusal), their URIs in order, each
 * `block` times: h2load's client sends its URIs in turn, so with one connection and one request in
 * flight the requests go URI 1 (block times), URI 2 (block times), URI 1, ... All URIs share the
 * one `-d` body and its method.
 */
export function h2loadArgs(request: LoadRequest, files: RunFiles): string[] {
	if (request.durationMs !== undefined) throw new H2loadError(H2LOAD_NO_DURATION);
	const refusal = routeInterleaveRefusal(request);
	if (refusal !== null) throw new H2loadError(`h2load cannot take these targets: ${refusal}`);
	const targets = request.targets?.length ? request.targets : [request];
	const args = ["--h1", "-n", String(request.requests)];
	args.push("-c", String(request.concurrency), "-m", "1", "-t", "1", "--log-file", files.log);
	if (targets[0]?.method === "POST") {
		args.push("-d", files.body, "-H", `content-type: ${request.contentType ?? "application/json"}`);
	}
	const block = request.block ?? 1;
	args.push(...targets.flatMap((t) => Array.from({ length: block }, () => t.url)));
	return args;
}

/** The body h2load sends (its `-d` file): the targets' shared body, else the request's. */
const bodyOf = (request: LoadRequest): string => request.targets?.[0]?.body ?? request.body ?? "";

/**
 * The log's rows (ordered by end of response) -> samples ordered by start, `startUs` relative to
 * the first request's start. Rows with status -1 (no response) are counted, not sampled.
 *
 * `targets` > 1 (an interleaved run: one connection, one request at a time): row i by start went
 * to target targetInTurn(i, targets, block), so each sample is tagged `target` and `index` as the
 * rotating generators' are. A request that left no row at all (its connection died) would shift the tags after it; the
 * runs that interleave (a local server at concurrency 1) have not lost one.
 */
export function parseH2loadLog(
	text: string,
	targets = 1,
	block = 1,
): { samples: Sample[]; failed: number } {
	const rows: { start: number; status: number; duration: number }[] = [];
	for (const [i, line] of text.split("\n").entries()) {
		if (line.trim() === "") continue;
		const cells = line.split("\t");
		const [start, status, duration] = cells.map(Number) as [number, number, number];
		if (cells.length < 3 || ![start, status, duration].every(Number.isInteger)) {
			throw new H2loadError(`h2load log line ${i + 1} is not "start\\tstatus\\tµs": ${line}`);
		}
		rows.push({ start, status, duration });
	}
	const first = Math.min(...rows.map((r) => r.start));
	// Tagged before the failed rows are dropped, so those keep their place in the turn.
	const byStart = rows
		.sort((a, b) => a.start - b.start)
		.map((r, index) => {
			const tag = targets > 1 ? { target: targetInTurn(index, targets, block), index } : {};
			return { ...r, tag };
		});
	const ok = byStart.filter((r) => r.status >= 0);
	return {
		samples: ok.map((r) => ({
			startUs: r.start - first,
			durationUs: r.duration,
			status: r.status,
			inferMs: null,
			...r.tag,
		})),
		failed: rows.length - ok.length,
	};
}

/**
 * Requests per target that got no response: each target's share of the N requests sent in turn
 * (targetInTurn) minus its samples.
 */
export function targetErrorsOf(
	samples: readonly Sample[],
	requests: number,
	n: number,
	block = 1,
): number[] {
	const sent = Array.from({ length: n }, () => 0);
	for (let i = 0; i < requests; i++) sent[targetInTurn(i, n, block)]++;
	return sent.map((count, t) => Math.max(0, count - samples.filter((s) => s.target === t).length));
}

const DURATION_UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };

/** "finished in 4.13ms, ..." from h2load's summary -> µs; null when absent. */
export function parseH2loadFinished(stdout: string): number | null {
	const match = /finished in (\d+(?:\.\d+)?)(us|ms|s),/.exec(stdout);
	if (!match) return null;
	return Number(match[1]) * (DURATION_UNIT_US[match[2] as string] as number);
}

/**
 * Finds h2load and checks it has --h1 and --log-file; throws H2loadError naming the cause.
 * `readTicks` reads /proc/stat for LoadRequest.steal (the tests give a fake).
 */
export async function probeH2load(
	env: NodeJS.ProcessEnv = process.env,
	readTicks: HostCpuReader = readCpuTicks,
): Promise<H2loadGenerator> {
	const bin = env.H2LOAD_BIN || findOnPath("h2load", env.PATH);
	if (!bin) {
		throw new H2loadError(
			"h2load not found on PATH (apt-get install nghttp2-client, set H2LOAD_BIN, or use --loadgen builtin)",
		);
	}
	let version: string | null;
	let help: string;
	try {
		const v = await runCollect(bin, ["--version"], { env, timeoutMs: 10_000 });
		version = parseH2loadVersion(v.stdout + v.stderr);
		const h = await runCollect(bin, ["--help"], { env, timeoutMs: 10_000 });
		help = h.stdout + h.stderr;
	} catch (error) {
		throw new H2loadError(`cannot run ${bin}: ${(error as Error).message}`);
	}
	if (!version) throw new H2loadError(`cannot read the version of ${bin} (h2load --version)`);
	const missing = REQUIRED_FLAGS.filter((flag) => !help.includes(flag));
	if (missing.length > 0) {
		throw new H2loadError(`h2load ${version} is too old: it has no ${missing.join(" or ")}`);
	}
	return new H2loadGenerator(bin, { name: "h2load", version }, env, readTicks);
}

export class H2loadGenerator implements LoadGenerator {
	readonly bin: string;
	readonly info: GeneratorInfo;
	/** Across servers no (it connects to one origin), but it sends several URIs of one in turn. */
	readonly rotates = false;
	readonly interleavesRoutes = true;
	private readonly env: NodeJS.ProcessEnv;
	private readonly readTicks: HostCpuReader;

	constructor(
		bin: string,
		info: GeneratorInfo,
		env: NodeJS.ProcessEnv = process.env,
		readTicks: HostCpuReader = readCpuTicks,
	) {
		this.bin = bin;
		this.info = info;
		this.env = env;
		this.readTicks = readTicks;
	}

	/**
	 * Warm-up is a separate, unmeasured run, as with oha: h2load's own --warm-up-time works only in
	 * duration mode (-D), and the bench counts requests. So the first measured request on each
	 * connection follows a fresh connect (the connect itself is not in h2load's per-request time).
	 * Host CPU steal (request.steal) is read around the measured process alone.
	 */
	async run(request: LoadRequest): Promise<LoadResult> {
		await warmUpSeparately(request, (warm) => this.once(warm));
		const { samples, failed, finishedUs, cpu, hostStealPct } = await this.once(
			request,
			request.steal,
		);
		const targets = request.targets?.length ?? 0;
		return {
			samples,
			// Failed requests may have a -1 row or none at all.
			errors: Math.max(failed, request.requests - samples.length),
			...(targets > 1
				? { targetErrors: targetErrorsOf(samples, request.requests, targets, request.block) }
				: {}),
			wallUs: finishedUs ?? wallUsOf(samples),
			generator: this.info,
			readsServerTiming: false,
			cpu,
			...(hostStealPct === undefined ? {} : { hostStealPct }),
		};
	}

	/** One h2load process; with `steal`, /proc/stat snapshots right before and after it. */
	private async once(request: LoadRequest, steal?: StealWindow) {
		const dir = mkdtempSync(join(tmpdir(), "bench-h2load-"));
		const files = { log: join(dir, "log.tsv"), body: join(dir, "body") };
		try {
			writeFileSync(files.body, bodyOf(request));
			const args = h2loadArgs(request, files);
			const [command, argv] = request.cpuList
				? ["taskset", ["-c", request.cpuList, this.bin, ...args]]
				: [this.bin, args];
			const closeSteal = openSteal(steal, this.readTicks);
			const result = await runMeasured(command, argv, this.env);
			const hostStealPct = closeSteal();
			if (result.code !== 0) {
				const why = result.stderr.trim().split("\n").at(-1) ?? "";
				throw new H2loadError(`h2load exited with ${result.code ?? result.signal}: ${why}`);
			}
			let log = "";
			try {
				log = readFileSync(files.log, "utf8");
			} catch {
				// No log: no request completed (h2load still exits 0 when it cannot connect).
			}
			const parsed = parseH2loadLog(log, request.targets?.length ?? 1, request.block);
			const finishedUs = parseH2loadFinished(result.stdout);
			return { ...parsed, finishedUs, cpu: result.cpu, hostStealPct };
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	}
}
