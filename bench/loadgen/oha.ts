import { findOnPath, runCollect } from "../processes.ts";
import { wallUsOf } from "../stats.ts";
import { type HostCpuReader, openSteal, readCpuTicks, type StealWindow } from "../steal.ts";
import { runMeasured } from "./cpu.ts";
import {
	type GeneratorCpu,
	type GeneratorInfo,
	type LoadGenerator,
	type LoadRequest,
	type LoadResult,
	type LoadSummary,
	type Sample,
	warmUpSeparately,
} from "./types.ts";

/** `--output-format csv` appeared in oha 1.9.0 (the old `-j` flag went away then). */
const OHA_MIN_VERSION: readonly [number, number, number] = [1, 9, 0];

const OHA_CSV_HEADER = "request-start,DNS,DNS+dialup,Response-delay,request-duration,bytes,status";

export class OhaError extends Error {}

/** `OHA_BIN` wins over PATH so a specific build can be benchmarked. */
function locateOha(env: NodeJS.ProcessEnv = process.env): string | null {
	if (env.OHA_BIN) return env.OHA_BIN;
	return findOnPath("oha", env.PATH);
}

/** "oha 1.15.0" -> [1, 15, 0]; null when the text has no version. */
export function parseOhaVersion(text: string): [number, number, number] | null {
	const match = /(\d+)\.(\d+)\.(\d+)/.exec(text);
	if (!match) return null;
	return [Number(match[1]), Number(match[2]), Number(match[3])];
}

export function versionAtLeast(
	version: readonly [number, number, number],
	minimum: readonly [number, number, number],
): boolean {
	for (let i = 0; i < 3; i++) {
		const a = version[i] as number;
		const b = minimum[i] as number;
		if (a !== b) return a > b;
	}
	return true;
}

/** 60000 -> "60s", 1500 -> "1500ms" (oha reads humantime durations). */
export function ohaDuration(ms: number): string {
	return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

/**
 * Count mode: `-n N`, CSV rows per response. Duration mode (`durationMs`): `-z 60s`, waiting for
 * the requests in flight at the deadline (else oha cancels them and counts them as errors), with
 * JSON output: oha's CSV has no rows for failed requests, and in duration mode nothing else would
 * say how many there were; the JSON's errorDistribution does.
 */
export function ohaArgs(request: LoadRequest): string[] {
	const duration = request.durationMs;
	const args =
		duration === undefined
			? ["-n", String(request.requests), "-c", String(request.concurrency), "--no-tui"]
			: [
					"-z",
					ohaDuration(duration),
					"-c",
					String(request.concurrency),
					"--no-tui",
					"--wait-ongoing-requests-after-deadline",
				];
	if (request.method === "POST") {
		args.push(
			"-m",
			"POST",
			"-T",
			request.contentType ?? "application/json",
			"-d",
			request.body ?? "",
		);
	}
	args.push("--output-format", duration === undefined ? "csv" : "json", request.url);
	return args;
}

interface OhaJson {
	summary?: { requestsPerSec?: number | null; total?: number | null };
	latencyPercentiles?: Record<string, number | null>;
	latencyPercentilesSuccessful?: Record<string, number | null>;
	statusCodeDistribution?: Record<string, number>;
	errorDistribution?: Record<string, number>;
}

/** oha's `--output-format json` (times in seconds) -> totals, errors and wall time. */
export function parseOhaJson(text: string): {
	summary: LoadSummary;
	errors: number;
	wallUs: number;
} {
	let json: OhaJson;
	try {
		json = JSON.parse(text) as OhaJson;
	} catch {
		throw new OhaError(`oha printed no JSON: ${JSON.stringify(text.slice(0, 80))}`);
	}
	if (!json.summary || !json.statusCodeDistribution) {
		throw new OhaError("oha JSON has no summary or statusCodeDistribution");
	}
	const percentiles = json.latencyPercentiles ?? json.latencyPercentilesSuccessful ?? {};
	const ms = (s: number | null | undefined) => (typeof s === "number" ? s * 1000 : null);
	const statusCodes = json.statusCodeDistribution;
	const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
	return {
		summary: {
			responses,
			statusCodes,
			p50Ms: ms(percentiles.p50),
			p99Ms: ms(percentiles.p99),
			rps: json.summary.requestsPerSec ?? 0,
		},
		errors: Object.values(json.errorDistribution ?? {}).reduce((a, b) => a + b, 0),
		wallUs: (json.summary.total ?? 0) * 1e6,
	};
}

/** One row per completed response, times in seconds relative to the run's start. */
export function parseOhaCsv(text: string): Sample[] {
	const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
	const header = lines.shift();
	if (header?.trim() !== OHA_CSV_HEADER) {
		throw new OhaError(`unexpected oha CSV header: ${JSON.stringify(header ?? "")}`);
	}
	return lines.map((line, i) => {
		const cells = line.split(",");
		if (cells.length !== 7) throw new OhaError(`oha CSV row ${i + 1} has ${cells.length} columns`);
		const start = Number(cells[0]);
		const duration = Number(cells[4]);
		const status = Number(cells[6]);
		if (!Number.isFinite(start) || !Number.isFinite(duration) || !Number.isInteger(status)) {
			throw new OhaError(`oha CSV row ${i + 1} is not numeric: ${line}`);
		}
		return { startUs: start * 1e6, durationUs: duration * 1e6, status, inferMs: null };
	});
}

/**
 * Finds oha and checks that it is new enough; throws OhaError naming the cause. `readTicks`
 * reads /proc/stat for LoadRequest.steal (the tests give a fake).
 */
export async function probeOha(
	env: NodeJS.ProcessEnv = process.env,
	readTicks: HostCpuReader = readCpuTicks,
): Promise<OhaGenerator> {
	const bin = locateOha(env);
	if (!bin)
		throw new OhaError("oha not found on PATH (set OHA_BIN, or use --loadgen h2load or builtin)");
	let out: string;
	try {
		const result = await runCollect(bin, ["--version"], { env, timeoutMs: 10_000 });
		out = result.stdout + result.stderr;
	} catch (error) {
		throw new OhaError(`cannot run ${bin}: ${(error as Error).message}`);
	}
	const version = parseOhaVersion(out);
	if (!version) throw new OhaError(`cannot read the version of ${bin} from ${JSON.stringify(out)}`);
	if (!versionAtLeast(version, OHA_MIN_VERSION)) {
		throw new OhaError(
			`oha ${version.join(".")} is too old: --output-format needs >= ${OHA_MIN_VERSION.join(".")}`,
		);
	}
	return new OhaGenerator(bin, { name: "oha", version: version.join(".") }, env, readTicks);
}

/** What one oha process gave beside its output: its CPU, and the host's steal over it when asked. */
interface Measured {
	cpu: GeneratorCpu | null;
	hostStealPct: number | null | undefined;
}

class OhaGenerator implements LoadGenerator {
	readonly bin: string;
	readonly info: GeneratorInfo;
	/** One URL per run: oha cannot rotate over several. */
	readonly rotates = false;
	readonly interleavesRoutes = false;
	private readonly env: NodeJS.ProcessEnv;
	private readonly readTicks: HostCpuReader;

	constructor(bin: string, info: GeneratorInfo, env: NodeJS.ProcessEnv, readTicks: HostCpuReader) {
		this.bin = bin;
		this.info = info;
		this.env = env;
		this.readTicks = readTicks;
	}

	/** The warm-up is a run of its own; host CPU steal (request.steal) is read around the measured one alone. */
	async run(request: LoadRequest): Promise<LoadResult> {
		await warmUpSeparately(request, (warm) => this.once(warm));
		if (request.durationMs !== undefined) {
			const { stdout, cpu, hostStealPct } = await this.exec(request, request.steal);
			const { summary, errors, wallUs } = parseOhaJson(stdout);
			return {
				samples: [],
				errors,
				wallUs,
				generator: this.info,
				readsServerTiming: false,
				summary,
				cpu,
				...(hostStealPct === undefined ? {} : { hostStealPct }),
			};
		}
		const { samples, cpu, hostStealPct } = await this.once(request, request.steal);
		return {
			samples,
			errors: Math.max(0, request.requests - samples.length),
			wallUs: wallUsOf(samples),
			generator: this.info,
			readsServerTiming: false,
			cpu,
			...(hostStealPct === undefined ? {} : { hostStealPct }),
		};
	}

	private async once(
		request: LoadRequest,
		steal?: StealWindow,
	): Promise<Measured & { samples: Sample[] }> {
		const { stdout, ...measured } = await this.exec(request, steal);
		return { samples: parseOhaCsv(stdout), ...measured };
	}

	/** One oha process; with `steal`, /proc/stat snapshots right before and after it. */
	private async exec(
		request: LoadRequest,
		steal?: StealWindow,
	): Promise<Measured & { stdout: string }> {
		const args = ohaArgs(request);
		const [command, argv] = request.cpuList
			? ["taskset", ["-c", request.cpuList, this.bin, ...args]]
			: [this.bin, args];
		const closeSteal = openSteal(steal, this.readTicks);
		const result = await runMeasured(command, argv, this.env);
		const hostStealPct = closeSteal();
		if (result.code !== 0) {
			const why = result.stderr.trim().split("\n").at(-1) ?? "";
			throw new OhaError(`oha exited with ${result.code ?? result.signal}: ${why}`);
		}
		return { stdout: result.stdout, cpu: result.cpu, hostStealPct };
	}
}
