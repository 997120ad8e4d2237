import { fileURLToPath } from "node:url";
import { runCollect } from "../processes.ts";
import { SAMPLE_FIELDS, type WorkerConfig, type WorkerOutput } from "./builtin-worker.ts";
import type { GeneratorInfo, LoadGenerator, LoadRequest, LoadResult, Sample } from "./types.ts";

const WORKER = fileURLToPath(new URL("./builtin-worker.ts", import.meta.url));

/** Per-request timeout inside the worker; a hung server shows up as errors, not a hung bench. */
const REQUEST_TIMEOUT_MS = 10_000;

class BuiltinError extends Error {}

/**
 * The fallback generator: a Node process (the pinned node 24) running builtin-worker.ts, so the
 * bench's own runtime never measures anything.
 */
export class BuiltinGenerator implements LoadGenerator {
	readonly nodeBin: string;
	readonly info: GeneratorInfo;
	readonly rotates = true;
	readonly interleavesRoutes = true;

	constructor(nodeBin: string, info: GeneratorInfo) {
		this.nodeBin = nodeBin;
		this.info = info;
	}

	static async create(nodeBin: string, projectVersion: string): Promise<BuiltinGenerator> {
		const result = await runCollect(nodeBin, ["--version"], { timeoutMs: 10_000 });
		const nodeVersion = result.stdout.trim();
		if (result.code !== 0 || !nodeVersion) {
			throw new BuiltinError(`cannot run ${nodeBin} for the built-in load generator`);
		}
		return new BuiltinGenerator(nodeBin, {
			name: "builtin",
			version: `${projectVersion} (node ${nodeVersion.replace(/^v/, "")})`,
		});
	}

	async run(request: LoadRequest): Promise<LoadResult> {
		const config: WorkerConfig = {
			url: request.url,
			method: request.method,
			body: request.body ?? "",
			contentType: request.contentType ?? "application/json",
			requests: request.requests,
			concurrency: request.concurrency,
			warmup: request.warmup ?? 0,
			timeoutMs: REQUEST_TIMEOUT_MS,
			...(request.durationMs === undefined ? {} : { durationMs: request.durationMs }),
			...(request.targets === undefined ? {} : { targets: request.targets }),
			...(request.alternate === undefined ? {} : { alternate: request.alternate }),
			...(request.block === undefined ? {} : { block: request.block }),
			...(request.afterWarmup === undefined ? {} : { afterWarmup: request.afterWarmup }),
			...(request.steal === undefined ? {} : { steal: request.steal }),
		};
		const args = ["--no-warnings", WORKER, JSON.stringify(config)];
		const [command, argv] = request.cpuList
			? ["taskset", ["-c", request.cpuList, this.nodeBin, ...args]]
			: [this.nodeBin, args];
		const result = await runCollect(command, argv, {});
		if (result.code !== 0) {
			const why = result.stderr.trim().split("\n").at(-1) ?? "";
			throw new BuiltinError(
				`built-in load generator exited with ${result.code ?? result.signal}: ${why}`,
			);
		}
		const output = JSON.parse(result.stdout) as WorkerOutput;
		return {
			samples: unflatten(output.samples),
			errors: output.errors,
			targetErrors: output.targetErrors,
			wallUs: output.wallUs,
			generator: this.info,
			readsServerTiming: true,
			// Measured by the worker itself over its measured phase: the process's own start-up and
			// warm-up, which a wrapper would count, are not part of the cell.
			cpu: output.wallUs > 0 ? { cpuMs: output.cpuUs / 1000, wallMs: output.wallUs / 1000 } : null,
			// So is the host's steal (request.steal), from /proc/stat around that phase alone.
			...(output.hostStealPct === undefined ? {} : { hostStealPct: output.hostStealPct }),
		};
	}
}

function unflatten(flat: readonly number[]): Sample[] {
	const samples: Sample[] = [];
	for (let i = 0; i + SAMPLE_FIELDS - 1 < flat.length; i += SAMPLE_FIELDS) {
		const infer = flat[i + 3] as number;
		samples.push({
			startUs: flat[i] as number,
			durationUs: flat[i + 1] as number,
			status: flat[i + 2] as number,
			inferMs: infer < 0 ? null : infer,
			target: flat[i + 4] as number,
			index: flat[i + 5] as number,
		});
	}
	return samples;
}
