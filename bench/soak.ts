import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadGenerator, LoadRequest } from "./loadgen/types.ts";
import { MODELS } from "./options.ts";
import { cellPlan } from "./plan.ts";
import type { ProcessRecord, Soak, SoakRun } from "./results.ts";
import { processRecord, rawCsv, type ServerSettings, warnIfUnclean, workersTag } from "./runner.ts";
import { freePort, type RuntimeName, ServerError, startServer } from "./runtimes.ts";
import { computeStats } from "./stats.ts";

/**
 * --soak: sustained load on one server per runtime, its memory sampled once a second. The
 * issue's criterion: the peak RSS after the mark (10 s) stays within 10% of the RSS at the mark.
 */
export const SOAK_TOLERANCE = 0.1;
/** The model a generator that cannot rotate (oha) sends when --models is not given. */
export const SOAK_DEFAULT_MODEL = "gbdt-onnx";
const SAMPLE_MS = 1000;

export interface SoakSettings extends ServerSettings {
	runtimes: readonly RuntimeName[];
	workers: readonly number[];
	models: readonly string[];
	concurrency: number;
	durationMs: number;
	markMs: number;
}

/**
 * What the soak sends: with a generator that rotates (the built-in one), every model request by
 * request (--models, default the four models); otherwise one model (the first of --models, default
 * gbdt-onnx).
 */
export function soakModels(
	generator: Pick<LoadGenerator, "rotates">,
	models: readonly string[],
	modelsGiven: boolean,
): string[] {
	if (generator.rotates) return modelsGiven ? [...models] : [...MODELS];
	return [modelsGiven ? (models[0] as string) : SOAK_DEFAULT_MODEL];
}

export interface RssVerdict {
	rssAtMarkKiB: number | null;
	rssEndKiB: number | null;
	peakRssKiB: number | null;
	peakAfterMarkKiB: number | null;
	growth: number | null;
}

/**
 * The mark's sample is the first taken at or after the mark; the peak after the mark is the
 * largest sample from there on (so growth is at least 1).
 */
export function judgeRss(
	samples: readonly { tMs: number; kib: number }[],
	markMs: number,
): RssVerdict {
	const at = samples.find((s) => s.tMs >= markMs) ?? null;
	const after = samples.filter((s) => s.tMs >= markMs).map((s) => s.kib);
	const peakAfter = after.length > 0 ? Math.max(...after) : null;
	return {
		rssAtMarkKiB: at?.kib ?? null,
		rssEndKiB: samples.at(-1)?.kib ?? null,
		peakRssKiB: samples.length > 0 ? Math.max(...samples.map((s) => s.kib)) : null,
		peakAfterMarkKiB: peakAfter,
		growth: at && at.kib > 0 && peakAfter !== null ? peakAfter / at.kib : null,
	};
}

export function soakPasses(run: Pick<SoakRun, "growth" | "stats">): boolean {
	const non2xx = Object.keys(run.stats.statusCodes).some((code) => !code.startsWith("2"));
	return (
		run.growth !== null &&
		run.growth <= 1 + SOAK_TOLERANCE + 1e-9 &&
		run.stats.errors === 0 &&
		run.stats.requests > 0 &&
		!non2xx
	);
}

export async function runSoak(
	settings: SoakSettings,
): Promise<{ soak: Soak; processes: ProcessRecord[] }> {
	const soak: Soak = {
		durationMs: settings.durationMs,
		markMs: settings.markMs,
		concurrency: settings.concurrency,
		models: [...settings.models],
		tolerance: SOAK_TOLERANCE,
		runs: [],
	};
	const processes: ProcessRecord[] = [];
	for (const workers of settings.workers) {
		for (const runtime of settings.runtimes) {
			const { run, process } = await soakOne(runtime, workers, settings);
			soak.runs.push(run);
			processes.push(process);
		}
	}
	return { soak, processes };
}

async function soakOne(
	runtime: RuntimeName,
	workers: number,
	settings: SoakSettings,
): Promise<{ run: SoakRun; process: ProcessRecord }> {
	const name = `${runtime}${workersTag(workers)}`;
	const port = settings.port ?? (await freePort());
	const server = await startServer(runtime, {
		root: settings.root,
		port,
		readyTimeoutMs: settings.readyTimeoutMs,
		cpuList: settings.pinning.server,
		workers,
	});
	const spawnToReadyMs = performance.now() - server.spawnedAt;
	settings.progress(`[soak] ${name} ready in ${spawnToReadyMs.toFixed(0)} ms on port ${port}`);
	const targets = settings.models.map((model) => {
		const plan = cellPlan(model, settings.concurrency);
		return {
			method: plan.method,
			url: `${server.baseUrl}${plan.path}`,
			body: plan.method === "POST" ? settings.body : "",
		};
	});
	const first = targets[0] as (typeof targets)[number];
	const base: LoadRequest = {
		url: first.url,
		method: first.method,
		body: first.method === "POST" ? settings.body : undefined,
		contentType: first.method === "POST" ? "application/json" : undefined,
		requests: Math.max(settings.warmup, settings.concurrency),
		concurrency: settings.concurrency,
		cpuList: settings.pinning.generator,
		...(settings.generator.rotates ? { targets } : {}),
	};
	const rss: { tMs: number; kib: number }[] = [];
	let sampler: ReturnType<typeof setInterval> | undefined;
	try {
		// Warm-up as a run of its own, so the clock of the RSS samples starts with the soak itself.
		if (settings.warmup > 0) await settings.generator.run(base);
		const t0 = performance.now();
		const take = () => {
			const memory = server.sample();
			if (memory) rss.push({ tMs: Math.round(performance.now() - t0), kib: memory.rssKiB });
		};
		take();
		sampler = setInterval(take, SAMPLE_MS);
		settings.progress(
			`[soak] ${name}: ${settings.durationMs / 1000} s at concurrency ${settings.concurrency} over ${settings.models.join(", ")}`,
		);
		const result = await settings.generator.run({ ...base, durationMs: settings.durationMs });
		clearInterval(sampler);
		take();
		if (server.child.exitCode !== null || server.child.signalCode !== null) {
			throw new ServerError(`${name} server died during the soak: ${server.lastOutput()}`);
		}
		const stats = soakStats(result);
		let rawFile: string | null = null;
		if (result.samples.length > 0) {
			rawFile = `raw/soak-${runtime}${workers === 1 ? "" : `-w${workers}`}.csv`;
			writeFileSync(join(settings.outDir, rawFile), rawCsv(result.samples));
		}
		const stop = await server.stop();
		const verdict = judgeRss(rss, settings.markMs);
		const run: SoakRun = {
			runtime,
			workers,
			port,
			generator: result.generator,
			stats,
			rss,
			...verdict,
			pass: false,
			exitCode: stop.code,
			killed: stop.killed,
			rawFile,
		};
		run.pass = soakPasses(run);
		settings.progress(soakLine(name, run));
		warnIfUnclean(name, stop, settings.progress);
		return { run, process: processRecord(server, 1, port, spawnToReadyMs, stop) };
	} catch (error) {
		clearInterval(sampler);
		await server.stop(2000);
		throw error;
	}
}

function soakStats(result: Awaited<ReturnType<LoadGenerator["run"]>>): SoakRun["stats"] {
	if (result.summary) {
		return {
			requests: result.summary.responses,
			errors: result.errors,
			statusCodes: result.summary.statusCodes,
			rps: result.summary.rps,
			p50Ms: result.summary.p50Ms,
			p99Ms: result.summary.p99Ms,
			wallMs: result.wallUs / 1000,
		};
	}
	const s = computeStats(result.samples, result.errors, result.wallUs);
	return {
		requests: s.count,
		errors: s.errors,
		statusCodes: s.statusCodes,
		rps: s.rps,
		p50Ms: s.p50Ms,
		p99Ms: s.p99Ms,
		wallMs: s.wallMs,
	};
}

function soakLine(name: string, run: SoakRun): string {
	const mib = (kib: number | null) => (kib === null ? "-" : `${(kib / 1024).toFixed(1)} MiB`);
	return `[soak] ${name}: ${run.stats.requests} resp, ${run.stats.errors} errors, ${run.stats.rps.toFixed(0)} req/s; RSS at mark ${mib(run.rssAtMarkKiB)}, end ${mib(run.rssEndKiB)}, peak after mark ${mib(run.peakAfterMarkKiB)} (x${run.growth?.toFixed(3) ?? "-"}) ${run.pass ? "PASS" : "FAIL"}`;
}

/** One line for the exit status, or null when every run passed. */
export function soakFailure(soak: Soak): string | null {
	const failed = soak.runs.filter((r) => !r.pass);
	if (failed.length === 0) return null;
	const why = failed.map((r) => {
		const name = `${r.runtime}${workersTag(r.workers)}`;
		const reasons = [
			...(r.stats.errors > 0 ? [`${r.stats.errors} errors`] : []),
			...Object.entries(r.stats.statusCodes)
				.filter(([code]) => !code.startsWith("2"))
				.map(([code, n]) => `${n}x${code}`),
			...(r.stats.requests === 0 ? ["no responses"] : []),
			...(r.growth === null
				? ["no RSS sample at the mark"]
				: r.growth > 1 + SOAK_TOLERANCE + 1e-9
					? [`RSS grew x${r.growth.toFixed(3)}`]
					: []),
		];
		return `${name} (${reasons.join(", ")})`;
	});
	return `soak failed: ${why.join("; ")}`;
}
