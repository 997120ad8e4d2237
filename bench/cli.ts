import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeEnvironment, projectVersion, resolvePinning } from "./environment.ts";
import { selectGenerator } from "./loadgen/select.ts";
import {
	DEFAULT_BODY,
	DEFAULTS,
	type Options,
	parseOptions,
	USAGE,
	UsageError,
} from "./options.ts";
import { buildPlan } from "./plan.ts";
import { killAllGroups } from "./processes.ts";
import { renderReport, writeReport } from "./report/render.ts";
import { labelSources } from "./report/select.ts";
import { terminalTable } from "./report/terminal.ts";
import { RESULTS_SCHEMA_VERSION, type Results, writeResults } from "./results.ts";
import { type RunOutput, runPlan, type ServerSettings } from "./runner.ts";
import { denoRunFlags, serverCommand } from "./runtimes.ts";
import { runSoak, soakFailure, soakModels } from "./soak.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** BENCH_READY_TIMEOUT_MS shortens the wait for /ready (the bench's own tests use it). */
function readyTimeoutMs(): number {
	const raw = process.env.BENCH_READY_TIMEOUT_MS;
	if (raw === undefined || raw === "") return 30_000;
	const value = Number(raw);
	if (!Number.isInteger(value) || value <= 0) {
		throw new UsageError(`BENCH_READY_TIMEOUT_MS must be a positive integer, got "${raw}"`);
	}
	return value;
}

function readBody(options: Options): string {
	if (options.bodySource === "(default)") return DEFAULT_BODY;
	let text: string;
	try {
		text = readFileSync(options.bodySource, "utf8");
	} catch {
		throw new UsageError(`--body: cannot read ${options.bodySource}`);
	}
	try {
		JSON.parse(text);
	} catch {
		throw new UsageError(`--body: ${options.bodySource} is not JSON`);
	}
	return text.trim();
}

/** Fails before anything starts when an entry point is missing, rather than per server later. */
function preflight(options: Options): void {
	for (const runtime of options.runtimes) {
		const { args } = serverCommand(runtime, ROOT);
		const entry = args.at(-1) as string;
		if (!existsSync(resolve(ROOT, entry)))
			throw new UsageError(`${runtime}: entry point ${entry} does not exist`);
		if (runtime === "deno") denoRunFlags(ROOT);
	}
}

async function main(argv: readonly string[]): Promise<number> {
	const options = parseOptions(argv);
	if (options.help) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	const body = readBody(options);
	const timeout = readyTimeoutMs();
	preflight(options);
	const version = projectVersion(ROOT);
	const generator = await selectGenerator(options.loadgen, ROOT, version);
	const pinning = resolvePinning(options.pin);
	const createdAt = new Date().toISOString();
	const outDir = resolve(
		options.out ?? join(ROOT, "bench", "results", createdAt.replace(/[:.]/g, "-")),
	);
	mkdirSync(join(outDir, "raw"), { recursive: true });
	const progress = (line: string) => process.stderr.write(`${line}\n`);
	const pinned = `pinned: ${pinning.pinned ? "yes" : `no (${pinning.note})`}`;
	const generatorName = `${generator.info.name} ${generator.info.version}`;
	const workers = options.workers.join(",");
	const environment = await describeEnvironment(ROOT, options.runtimes);
	const common: ServerSettings = {
		root: ROOT,
		outDir,
		generator,
		warmup: options.warmup,
		body,
		readyTimeoutMs: timeout,
		port: options.port,
		pinning,
		progress,
	};
	let output: RunOutput & { soak?: Results["soak"] };
	if (options.soakMs !== null) {
		const models = soakModels(generator, options.models, options.modelsGiven);
		const concurrency = options.concurrencyGiven
			? (options.concurrency[0] as number)
			: DEFAULTS.soakConcurrency;
		progress(
			`bench: soak ${options.soakMs / 1000} s per server: ${options.runtimes.join(",")}, workers ${workers}, concurrency ${concurrency}, models ${models.join(",")}; ${generatorName}; ${pinned}`,
		);
		const { soak, processes } = await runSoak({
			...common,
			runtimes: options.runtimes,
			workers: options.workers,
			models,
			concurrency,
			durationMs: options.soakMs,
			markMs: options.soakMarkMs,
		});
		output = { processes, cells: [], soak };
	} else {
		progress(
			`bench: ${options.runtimes.join(",")} x ${options.models.join(",")}; ${options.requests} requests, concurrency ${options.concurrency.join(",")}, workers ${workers}, ${options.rounds} round(s); ${generatorName}; ${pinned}`,
		);
		output = await runPlan(buildPlan(options), {
			...common,
			requests: options.requests,
		});
	}
	const results: Results = {
		schemaVersion: RESULTS_SCHEMA_VERSION,
		createdAt,
		environment: {
			...environment,
			generator: generator.info,
			pinning: { pinned: pinning.pinned, note: pinning.note },
		},
		options: {
			runtimes: options.runtimes,
			models: options.models,
			requests: options.requests,
			concurrency: options.concurrency,
			warmup: options.warmup,
			rounds: options.rounds,
			loadgen: options.loadgen,
			body: options.bodySource,
			pin: options.pin,
			workers: options.workersSpec,
			...(options.soakMs === null ? {} : { soakMs: options.soakMs }),
		},
		...output,
	};
	writeResults(join(outDir, "results.json"), results);
	const rendered = renderReport(labelSources([results]));
	writeReport(outDir, rendered);
	process.stdout.write(`${rendered.main.map(terminalTable).join("\n\n")}\n`);
	progress(`bench: report in ${relative(process.cwd(), join(outDir, "report.md")) || "report.md"}`);
	const failure = output.soak ? soakFailure(output.soak) : null;
	if (failure) {
		progress(`bench: ${failure}`);
		return 1;
	}
	return 0;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
	process.on(signal, () => {
		killAllGroups();
		process.stderr.write(`bench: interrupted by ${signal}; servers stopped\n`);
		process.exit(130);
	});
}

main(process.argv.slice(2)).then(
	(code) => {
		process.exitCode = code;
	},
	(error: unknown) => {
		killAllGroups();
		const message = error instanceof Error ? error.message : String(error);
		process.stderr.write(`bench: ${message.split("\n")[0]}\n`);
		process.exitCode = 1;
	},
);
