import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
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
import { checkOutside, peersRun, skippedRecord } from "./outside.ts";
import { buildPlan } from "./plan.ts";
import { killAllGroups } from "./processes.ts";
import { renderReport, writeReport } from "./report/render.ts";
import { labelSources } from "./report/sources.ts";
import { terminalTable } from "./report/terminal.ts";
import { RESULTS_SCHEMA_VERSION, type Results, writeResults } from "./results.ts";
import { type RunOutput, runPlan } from "./runner.ts";
import { denoRunFlags, serverCommand } from "./runtimes.ts";
import type { ServerSettings } from "./session.ts";
import { runSoak, soakFailure, soakModels } from "./soak.ts";
import { readV2Input, v2Cell } from "./v2.ts";

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

type Output = RunOutput & { soak?: Results["soak"] };

/** --soak: one server per runtime and workers value under sustained load. */
async function soakMode(
	options: Options,
	soakMs: number,
	settings: ServerSettings,
	how: string,
): Promise<Output> {
	const models = soakModels(settings.generator, options.models, options.modelsGiven);
	const concurrency = options.concurrencyGiven
		? (options.concurrency[0] as number)
		: DEFAULTS.soakConcurrency;
	settings.progress(
		`bench: soak ${soakMs / 1000} s per server: ${options.runtimes.join(",")}, workers ${options.workers.join(",")}, metrics ${options.metrics.join(",")}, concurrency ${concurrency}, models ${models.join(",")}; ${how}`,
	);
	const { soak, processes } = await runSoak({
		...settings,
		runtimes: options.runtimes,
		workers: options.workers,
		metrics: options.metrics[0] ?? "on",
		models,
		concurrency,
		durationMs: soakMs,
		markMs: options.soakMarkMs,
	});
	return { processes, cells: [], soak };
}

/** The normal run: every runtime, model and concurrency, round after round. */
function benchMode(
	options: Options,
	settings: ServerSettings,
	how: string,
	bodies: Record<string, string>,
): Promise<Output> {
	settings.progress(
		`bench: ${[...options.runtimes, ...peersRun(options), ...options.targets.map((t) => t.name)].join(",")} x ${options.models.join(",")}; ${options.requests} requests, concurrency ${options.concurrency.join(",")}, workers ${options.workers.join(",")}, metrics ${options.metrics.join(",")}, ${options.rounds} round(s); ${how}`,
	);
	return runPlan(buildPlan({ ...options, bodies }), { ...settings, requests: options.requests });
}

function optionsRecord(options: Options): Results["options"] {
	return {
		runtimes: options.runtimes,
		...(options.peers.length > 0 ? { peers: options.peers } : {}),
		...(options.targets.length > 0 ? { targets: options.targets } : {}),
		models: options.models,
		requests: options.requests,
		concurrency: options.concurrency,
		warmup: options.warmup,
		rounds: options.rounds,
		loadgen: options.loadgen,
		body: options.bodySource,
		...(options.v2 === null ? {} : { v2Input: options.v2.input }),
		pin: options.pin,
		workers: options.workersSpec,
		metrics: options.metrics,
		...(options.stages ? { stages: true as const } : {}),
		...(options.soakMs === null ? {} : { soakMs: options.soakMs }),
	};
}

async function main(argv: readonly string[]): Promise<number> {
	const options = parseOptions(argv);
	if (options.help) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	const body = readBody(options);
	// Read before any server starts, so a bad --input stops the bench at once.
	const bodies = options.v2 ? { [v2Cell(options.v2.name)]: readV2Input(options.v2.input) } : {};
	const readyTimeout = readyTimeoutMs();
	preflight(options);
	let generator = await selectGenerator(options.loadgen, ROOT, projectVersion(ROOT), process.env, {
		timed: options.soakMs !== null,
	});
	let generatorNote: string | undefined;
	if (options.metrics.length > 1 && !generator.rotates) {
		// The paired run alternates requests between two servers, which oha cannot do.
		generatorNote = `--metrics ${options.metrics.join(",")} alternates requests between two servers, which ${generator.info.name} cannot: the built-in generator measured this run`;
		generator = await selectGenerator("builtin", ROOT, projectVersion(ROOT));
		process.stderr.write(`bench: ${generatorNote}\n`);
	}
	await checkOutside(options, { root: ROOT, body, readyTimeoutMs: readyTimeout, generator });
	const pinning = resolvePinning(options.pin);
	const createdAt = new Date().toISOString();
	const outDir = resolve(
		options.out ?? join(ROOT, "bench", "results", createdAt.replace(/[:.]/g, "-")),
	);
	mkdirSync(join(outDir, "raw"), { recursive: true });
	const progress = (line: string) => process.stderr.write(`${line}\n`);
	const environment = await describeEnvironment(ROOT, options.runtimes, peersRun(options));
	const settings: ServerSettings = {
		root: ROOT,
		outDir,
		generator,
		warmup: options.warmup,
		body,
		readyTimeoutMs: readyTimeout,
		port: options.port,
		pinning,
		progress,
	};
	const how = `${generator.info.name} ${generator.info.version}; pinned: ${pinning.pinned ? "yes" : `no (${pinning.note})`}`;
	const output =
		options.soakMs === null
			? await benchMode(options, settings, how, bodies)
			: await soakMode(options, options.soakMs, settings, how);
	const results: Results = {
		schemaVersion: RESULTS_SCHEMA_VERSION,
		createdAt,
		environment: {
			...environment,
			generator: generator.info,
			...(generatorNote === undefined ? {} : { generatorNote }),
			pinning: { pinned: pinning.pinned, note: pinning.note },
		},
		options: optionsRecord(options),
		...(skippedRecord(options).length > 0 ? { skipped: skippedRecord(options) } : {}),
		...output,
	};
	writeResults(join(outDir, "results.json"), results);
	const rendered = renderReport(labelSources([results], [outDir]));
	writeReport(outDir, rendered);
	process.stdout.write(`${rendered.tables.map(terminalTable).join("\n\n")}\n`);
	// Relative to here when the folder is below here, else the absolute path (never "../../tmp/...").
	const report = join(outDir, "report.md");
	const shown = relative(process.cwd(), report);
	progress(
		`bench: report in ${shown.startsWith("..") || isAbsolute(shown) ? resolve(report) : shown}`,
	);
	const failure = output.soak ? soakFailure(output.soak) : null;
	if (failure) {
		progress(`bench: ${failure}`);
		return 1;
	}
	return 0;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
	process.on(signal, () => {
		killAllGroups();
		process.stderr.write(`bench: interrupted by ${signal}; servers stopped\n`);
		process.exit(130);
	});
}
// A closed pipe on stdout (`npm run bench | head`) must not leave servers behind either, nor may
// any other way out: the servers run in their own process groups, which no signal to ours reaches.
process.stdout.on("error", () => {
	killAllGroups();
	process.exit(1);
});
process.on("exit", killAllGroups);

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
