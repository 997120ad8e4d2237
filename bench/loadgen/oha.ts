import { findOnPath, runCollect } from "../processes.ts";
import { wallUsOf } from "../stats.ts";
import type { GeneratorInfo, LoadGenerator, LoadRequest, LoadResult, Sample } from "./types.ts";

/** `--output-format csv` appeared in oha 1.9.0 (the old `-j` flag went away then). */
export const OHA_MIN_VERSION: readonly [number, number, number] = [1, 9, 0];

export const OHA_CSV_HEADER =
	"request-start,DNS,DNS+dialup,Response-delay,request-duration,bytes,status";

export class OhaError extends Error {}

/** `OHA_BIN` wins over PATH so a specific build can be benchmarked. */
export function locateOha(env: NodeJS.ProcessEnv = process.env): string | null {
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

export function ohaArgs(request: LoadRequest): string[] {
	const args = ["-n", String(request.requests), "-c", String(request.concurrency), "--no-tui"];
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
	args.push("--output-format", "csv", request.url);
	return args;
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

/** Finds oha and checks that it is new enough; throws OhaError naming the cause. */
export async function probeOha(env: NodeJS.ProcessEnv = process.env): Promise<OhaGenerator> {
	const bin = locateOha(env);
	if (!bin) throw new OhaError("oha not found on PATH (set OHA_BIN or use --loadgen builtin)");
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
	return new OhaGenerator(bin, { name: "oha", version: version.join(".") }, env);
}

export class OhaGenerator implements LoadGenerator {
	readonly bin: string;
	readonly info: GeneratorInfo;
	private readonly env: NodeJS.ProcessEnv;

	constructor(bin: string, info: GeneratorInfo, env: NodeJS.ProcessEnv = process.env) {
		this.bin = bin;
		this.info = info;
		this.env = env;
	}

	async run(request: LoadRequest): Promise<LoadResult> {
		const warmup = request.warmup ?? 0;
		if (warmup > 0) {
			await this.once({ ...request, requests: Math.max(warmup, request.concurrency) });
		}
		const samples = await this.once(request);
		return {
			samples,
			errors: Math.max(0, request.requests - samples.length),
			wallUs: wallUsOf(samples),
			generator: this.info,
			readsServerTiming: false,
		};
	}

	private async once(request: LoadRequest): Promise<Sample[]> {
		const args = ohaArgs(request);
		const [command, argv] = request.cpuList
			? ["taskset", ["-c", request.cpuList, this.bin, ...args]]
			: [this.bin, args];
		const result = await runCollect(command, argv, { env: this.env });
		if (result.code !== 0) {
			const why = result.stderr.trim().split("\n").at(-1) ?? "";
			throw new OhaError(`oha exited with ${result.code ?? result.signal}: ${why}`);
		}
		return parseOhaCsv(result.stdout);
	}
}
