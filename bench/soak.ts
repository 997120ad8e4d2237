import type { LoadGenerator, LoadRequest, LoadResult } from "./loadgen/types.ts";
import { MODELS } from "./options.ts";
import { cellPlan } from "./plan.ts";
import { serverSuffix, writeRawCsv } from "./raw.ts";
import {
	type MetricsSetting,
	metricsOf,
	type ProcessRecord,
	type Soak,
	type SoakRun,
} from "./results.ts";
import type { RuntimeName } from "./runtimes.ts";
import { type ServerSettings, type Session, serverName, withServer } from "./session.ts";
import { computeStats, non2xx } from "./stats.ts";

/**
 * --soak: sustained load on one server per runtime, its memory sampled once a second. The
 * issue's criterion: the peak RSS after the mark (10 s) stays within 10% of the RSS at the mark.
 */
const SOAK_TOLERANCE = 0.1;
/** The model a generator that cannot rotate (oha) sends when --models is not given. */
export const SOAK_DEFAULT_MODEL = "gbdt-onnx";
const SAMPLE_MS = 1000;

interface SoakSettings extends ServerSettings {
	runtimes: readonly RuntimeName[];
	workers: readonly number[];
	/** The one METRICS value the soak's servers run with. */
	metrics: MetricsSetting;
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

interface RssVerdict {
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

/** Above the tolerance; the epsilon keeps a growth of exactly 1.10 (as a float) a pass. */
const grewTooMuch = (growth: number): boolean => growth > 1 + SOAK_TOLERANCE + 1e-9;

export function soakPasses(run: Pick<SoakRun, "growth" | "stats">): boolean {
	return (
		run.growth !== null &&
		!grewTooMuch(run.growth) &&
		run.stats.errors === 0 &&
		run.stats.requests > 0 &&
		non2xx(run.stats.statusCodes).length === 0
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
			const variant = { workers, metrics: settings.metrics };
			const {
				result,
				stop,
				process: record,
			} = await withServer(runtime, variant, { round: 1, tag: "[soak]" }, settings, (session) =>
				soakLoad(session, settings),
			);
			const run: SoakRun = {
				runtime,
				workers,
				metrics: settings.metrics,
				port: record.port,
				...result,
				...judgeRss(result.rss, settings.markMs),
				pass: false,
				exitCode: stop.code,
				killed: stop.killed,
			};
			run.pass = soakPasses(run);
			settings.progress(soakLine(serverName(runtime, variant), run));
			soak.runs.push(run);
			processes.push(record);
		}
	}
	return { soak, processes };
}

type SoakLoad = Pick<SoakRun, "generator" | "stats" | "rss" | "rawFile">;

/** Warm-up, then DURATION of load with the server's RSS sampled every second from its start. */
async function soakLoad(session: Session, settings: SoakSettings): Promise<SoakLoad> {
	const { server } = session;
	const plans = settings.models.map((model) => cellPlan(model, settings.concurrency));
	const base: LoadRequest = {
		...session.request(
			plans[0] as (typeof plans)[number],
			Math.max(settings.warmup, settings.concurrency),
		),
		...(settings.generator.rotates ? { targets: plans.map(session.target) } : {}),
	};
	// Warm-up as a run of its own, so the clock of the RSS samples starts with the soak itself.
	if (settings.warmup > 0) await settings.generator.run(base);
	const rss: { tMs: number; kib: number }[] = [];
	const t0 = performance.now();
	const take = () => {
		const memory = server.sample();
		if (memory) rss.push({ tMs: Math.round(performance.now() - t0), kib: memory.rssKiB });
	};
	take();
	const sampler = setInterval(take, SAMPLE_MS);
	let result: LoadResult;
	try {
		settings.progress(
			`[soak] ${session.name}: ${settings.durationMs / 1000} s at concurrency ${settings.concurrency} over ${settings.models.join(", ")}`,
		);
		result = await settings.generator.run({ ...base, durationMs: settings.durationMs });
	} finally {
		clearInterval(sampler);
	}
	take();
	session.assertAlive("the soak");
	const rawFile =
		result.samples.length > 0
			? writeRawCsv(
					settings.outDir,
					`soak-${server.runtime}${serverSuffix(session.variant)}`,
					result.samples,
				)
			: null;
	return { generator: result.generator, stats: soakStats(result), rss, rawFile };
}

function soakStats(result: LoadResult): SoakRun["stats"] {
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
		const reasons = [
			...(r.stats.errors > 0 ? [`${r.stats.errors} errors`] : []),
			...non2xx(r.stats.statusCodes).map(([code, n]) => `${n}x${code}`),
			...(r.stats.requests === 0 ? ["no responses"] : []),
			...(r.growth === null
				? ["no RSS sample at the mark"]
				: grewTooMuch(r.growth)
					? [`RSS grew x${r.growth.toFixed(3)}`]
					: []),
		];
		const variant = { workers: r.workers, metrics: metricsOf(r) };
		return `${serverName(r.runtime, variant)} (${reasons.join(", ")})`;
	});
	return `soak failed: ${why.join("; ")}`;
}
