import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { RUNTIMES } from "./runtimes.ts";

/** results.json: everything a report is rendered from, so reports can be re-rendered and merged. */

export const RESULTS_SCHEMA_VERSION = 1;

/** The model name of the floor cell: GET /health, the runtime's bare HTTP round trip. */
export const FLOOR = "floor";

/**
 * The POST floor: the same body as a prediction POSTed to a route that reads it whole and answers
 * a constant (BENCH_ROUTES=1), so the runtime's charge for receiving a body is seen apart.
 */
export const FLOOR_POST = "floor-post";

/** The cells that measure the runtime itself rather than a model (no Server-Timing). */
export const isFloor = (model: string): boolean => model === FLOOR || model === FLOOR_POST;

/**
 * The stages a server started with STAGES=1 times each prediction by (src/api/stages.ts), in
 * request order: route (the app's fetch entry to the handler), read (header checks and the body's
 * bytes), parse (UTF-8 and JSON.parse), validate (zod), encode (preprocessing into the
 * Float32Array), infer (the model call), serialise (the answer's JSON text), respond (the Response).
 */
export const STAGES = [
	"route",
	"read",
	"parse",
	"validate",
	"encode",
	"infer",
	"serialise",
	"respond",
] as const;
export type Stage = (typeof STAGES)[number];

/** Per stage, a duration in µs (every stage present). */
export const StageTimesSchema = z.record(z.enum(STAGES), z.number().nonnegative());
export type StageTimes = z.infer<typeof StageTimesSchema>;

/** The server's METRICS values the bench can compare (--metrics on,off). */
export const METRICS_SETTINGS = ["on", "off"] as const;
export type MetricsSetting = (typeof METRICS_SETTINGS)[number];
/** METRICS of a cell or process, absent in files written before --metrics existed. */
const MetricsSchema = z.enum(METRICS_SETTINGS).optional();

/**
 * Who served a cell or ran as a process: one of RUNTIMES, a peer (peers.ts) or a --target's NAME.
 * A string, so files from before peers and targets (runtimes only) still read.
 */
const ServerNameSchema = z.string().min(1);

const Count = z.number().int().nonnegative();
const Ms = z.number().nonnegative();
const MaybeMs = Ms.nullable();

const StatsSchema = z.object({
	count: Count,
	errors: Count,
	statusCodes: z.record(z.string().regex(/^\d+$/), Count),
	avgMs: MaybeMs,
	minMs: MaybeMs,
	maxMs: MaybeMs,
	totalMs: Ms,
	wallMs: Ms,
	varianceMs2: MaybeMs,
	p50Ms: MaybeMs,
	p90Ms: MaybeMs,
	p99Ms: MaybeMs,
	p999Ms: MaybeMs,
	rps: z.number().nonnegative(),
});

const GeneratorSchema = z.object({ name: z.string().min(1), version: z.string().min(1) });

/** Marks a timed (STAGES=1) server's cell or process under --stages. */
const TimedSchema = z.literal(true).optional();

const CellSchema = z.object({
	runtime: ServerNameSchema,
	/** A model id, or FLOOR for GET /health. */
	model: z.string().min(1),
	concurrency: z.number().int().positive(),
	/** WORKERS the server ran with; absent (files written before workers existed) means 1. */
	workers: z.number().int().positive().optional(),
	/** METRICS the server ran with. */
	metrics: MetricsSchema,
	round: z.number().int().positive(),
	requests: Count,
	warmup: Count,
	generator: GeneratorSchema,
	stats: StatsSchema,
	/**
	 * Median model-call duration: Server-Timing `infer` read per request by the generator
	 * ("loadgen") or by a side sample sent after the run ("sample"); or ("server", --stages, our
	 * untimed servers) the p50 the server itself kept over the measured requests.
	 */
	infer: z.object({
		medianMs: MaybeMs,
		count: Count,
		source: z.enum(["loadgen", "sample", "server", "none"]),
	}),
	/** CPU time the server process spent on this cell, its warm-up included. */
	serverCpuMs: MaybeMs,
	/**
	 * The load generator's own utime+stime over the measured run and the wall time it was spent
	 * in (a paired cell: the whole run over both servers). Null when unreadable; absent in files
	 * from before it was recorded.
	 */
	generatorCpu: z.object({ cpuMs: Ms, wallMs: Ms }).nullable().optional(),
	/**
	 * Host CPU steal over the measured requests (bench/steal.ts; the generator reads it after its
	 * warm-up, LoadRequest.steal): the hypervisor's ticks for something else as a % of all ticks of
	 * the server's cores in /proc/stat (the pinned ones, or every CPU when not pinned); a paired
	 * cell's is the run's over both servers, on the same cores.
	 * Null where /proc/stat was unreadable (macOS) or no tick passed; absent on a --target's cells
	 * (its cores are not the bench's to read) and in files from before it was recorded.
	 */
	hostStealPct: z.number().min(0).max(100).nullable().optional(),
	/** The per-request CSV, relative to results.json. */
	rawFile: z.string().min(1),
	/**
	 * --stages, prediction cells of our runtimes: what the server's stage timers recorded over
	 * the measured run (cleared after the warm-up, read after the last response): predictions
	 * timed and each stage's p50 in µs.
	 */
	stages: z
		.object({
			count: Count,
			p50Us: StageTimesSchema,
		})
		.optional(),
	/**
	 * --stages, a model cell at concurrency 1 of a server with floor-post (ours, the peers), with a
	 * generator that can interleave two routes (not oha): the p50 (µs) of the floor-posts sent in
	 * turn with this cell's requests, in the same run on the same connection (bench/beside.ts).
	 * Absent otherwise, and in files from before it.
	 */
	floorPostBesideP50Us: z.number().nonnegative().optional(),
	/**
	 * --stages: measured on the runtime's timed server (STAGES=1), the second of its two; such a
	 * cell feeds only the stage breakdown. Absent on every other cell, and in files from before
	 * it, where --stages timed the only server and its cells are the latency tables' too.
	 */
	timed: TimedSchema,
});
export type Cell = z.infer<typeof CellSchema>;

/**
 * One cell of a paired run (--metrics on,off): the two servers up at once, one generator run
 * alternating requests between them (A B, B A, A B, ...), requests 2k and 2k+1 of the measured
 * ones forming pair k. Both servers' cells are recorded as usual; this holds what only the pairing
 * gives. Differences are on − off, in ms.
 */
const PairSchema = z.object({
	runtime: ServerNameSchema,
	workers: z.number().int().positive(),
	model: z.string().min(1),
	concurrency: z.number().int().positive(),
	round: z.number().int().positive(),
	/** METRICS of the server that was sent the first request (A). */
	first: z.enum(METRICS_SETTINGS),
	/** Pairs where both requests got a 2xx response: the ones the figures below are over. */
	pairs: Count,
	/** Median over the pairs of (on's duration − off's duration). */
	medianDiffMs: z.number().nullable(),
	/** Quartiles of those differences: how widely single pairs spread. */
	p25DiffMs: z.number().nullable(),
	p75DiffMs: z.number().nullable(),
	/**
	 * The median over the pairs whose first request went to the on server, and to the off one; the
	 * mean of the two is the order-balanced figure (paired.ts, balancedDiffMs).
	 */
	onFirstMedianDiffMs: z.number().nullable(),
	offFirstMedianDiffMs: z.number().nullable(),
});
export type Pair = z.infer<typeof PairSchema>;

const ProcessSchema = z.object({
	runtime: ServerNameSchema,
	round: z.number().int().positive(),
	/** WORKERS the server ran with; absent means 1. */
	workers: z.number().int().positive().optional(),
	/** METRICS the server ran with. */
	metrics: MetricsSchema,
	/** Processes summed into peakRssKiB and cpuMs (Node/Bun: supervisor + workers; Deno: 1). */
	processCount: Count.nullable().optional(),
	port: z.number().int().positive(),
	spawnToReadyMs: Ms,
	/** VmHWM summed over the server's processes (the supervisor and its children). */
	peakRssKiB: Count.nullable(),
	cpuMs: MaybeMs,
	exitCode: z.number().int().nullable(),
	exitSignal: z.string().nullable(),
	/** True when SIGTERM did not stop it in time. */
	killed: z.boolean(),
	stopMs: Ms,
	/** --stages: the timed server, left out of the startup and memory figures (it holds the timers). */
	timed: TimedSchema,
});
export type ProcessRecord = z.infer<typeof ProcessSchema>;

const SoakRunSchema = z.object({
	runtime: z.enum(RUNTIMES),
	workers: z.number().int().positive(),
	metrics: MetricsSchema,
	port: z.number().int().positive(),
	generator: GeneratorSchema,
	/** Responses, errors (requests without a response), status codes, req/s, p50/p99. */
	stats: z.object({
		requests: Count,
		errors: Count,
		statusCodes: z.record(z.string().regex(/^\d+$/), Count),
		rps: z.number().nonnegative(),
		p50Ms: MaybeMs,
		p99Ms: MaybeMs,
		wallMs: Ms,
	}),
	/** VmRSS summed over the server's processes, once a second from the start of the load. */
	rss: z.array(z.object({ tMs: Ms, kib: Count })),
	rssAtMarkKiB: Count.nullable(),
	rssEndKiB: Count.nullable(),
	peakRssKiB: Count.nullable(),
	/** Largest sample at or after the mark. */
	peakAfterMarkKiB: Count.nullable(),
	/** peakAfterMark / rssAtMark; null without both. */
	growth: z.number().nonnegative().nullable(),
	/** growth <= 1 + tolerance, and no errors, and every response 2xx. */
	pass: z.boolean(),
	exitCode: z.number().int().nullable(),
	killed: z.boolean(),
	rawFile: z.string().nullable(),
});
export type SoakRun = z.infer<typeof SoakRunSchema>;

const SoakSchema = z.object({
	durationMs: z.number().int().positive(),
	markMs: z.number().int().positive(),
	concurrency: z.number().int().positive(),
	/** Models the requests rotated over, request by request (one with oha). */
	models: z.array(z.string().min(1)).min(1),
	/** Allowed growth of the peak after the mark over the mark's sample, e.g. 0.1. */
	tolerance: z.number().nonnegative(),
	runs: z.array(SoakRunSchema),
});
export type Soak = z.infer<typeof SoakSchema>;

/**
 * Every cell, process and pair names a server the run had: one of its runtimes, peers or targets
 * (ServerNameSchema alone would take any name).
 */
function knownServers(
	results: {
		options: { runtimes: string[]; peers?: string[]; targets?: { name: string }[] };
		cells: { runtime: string }[];
		processes: { runtime: string }[];
		pairs?: { runtime: string }[];
	},
	ctx: z.RefinementCtx,
): void {
	const { runtimes, peers = [], targets = [] } = results.options;
	const known = new Set([...runtimes, ...peers, ...targets.map((t) => t.name)]);
	const lists = { cells: results.cells, processes: results.processes, pairs: results.pairs ?? [] };
	for (const [list, items] of Object.entries(lists)) {
		items.forEach((item, i) => {
			if (!known.has(item.runtime)) {
				ctx.addIssue({
					code: "custom",
					path: [list, i, "runtime"],
					message: `"${item.runtime}" is none of the run's runtimes, peers or targets`,
				});
			}
		});
	}
}

const ResultsShape = z.object({
	schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
	createdAt: z.iso.datetime(),
	environment: z.object({
		host: z.string(),
		cpuModel: z.string(),
		cores: z.number().int().positive(),
		memoryMiB: Count,
		os: z.string(),
		runtimes: z.record(z.string(), z.string()),
		onnxruntime: z.string().nullable(),
		benchRuntime: z.string(),
		projectVersion: z.string(),
		generator: GeneratorSchema,
		/** Why the generator is not the one --loadgen picked (a paired run with oha selected). */
		generatorNote: z.string().optional(),
		pinning: z.object({ pinned: z.boolean(), note: z.string() }),
	}),
	options: z.object({
		runtimes: z.array(z.enum(RUNTIMES)).min(1),
		/** --peers; absent in files from before the option. */
		peers: z.array(ServerNameSchema).optional(),
		/** --target NAME=URL, each; absent in files from before the option. */
		targets: z.array(z.object({ name: ServerNameSchema, url: z.url() })).optional(),
		models: z.array(z.string().min(1)).min(1),
		requests: z.number().int().positive(),
		concurrency: z.array(z.number().int().positive()).min(1),
		warmup: Count,
		rounds: z.number().int().positive(),
		loadgen: z.enum(["auto", "oha", "h2load", "builtin"]),
		body: z.string(),
		/** --input, the body file of the --v2 cell; absent without --v2. */
		v2Input: z.string().optional(),
		pin: z.boolean(),
		/** --workers as given, e.g. ["1", "auto"]; absent means ["1"]. */
		workers: z.array(z.string().min(1)).min(1).optional(),
		/** --metrics, e.g. ["on", "off"]; absent in files from before the option. */
		metrics: z.array(z.enum(METRICS_SETTINGS)).min(1).optional(),
		/** --stages: our runtimes' servers timed each prediction by stage (STAGES=1). */
		stages: z.literal(true).optional(),
		/** --soak in ms, when the run was a soak. */
		soakMs: z.number().int().positive().optional(),
	}),
	processes: z.array(ProcessSchema),
	cells: z.array(CellSchema),
	/** Per peer, the --models it has no cell for, so it was not measured on them. */
	skipped: z.array(z.object({ runtime: ServerNameSchema, models: z.array(z.string()) })).optional(),
	/** Present for a paired run (--metrics on,off): one per cell and round. */
	pairs: z.array(PairSchema).optional(),
	/** Present for a --soak run (whose cells are then empty). */
	soak: SoakSchema.optional(),
});
const ResultsSchema = ResultsShape.superRefine(knownServers);
export type Results = z.infer<typeof ResultsSchema>;

export class ResultsError extends Error {}

/** WORKERS of a cell or process; files from before --workers have none, which means 1. */
export const workersOf = (x: { workers?: number | undefined }): number => x.workers ?? 1;

/** METRICS of a cell or process; null for files from before --metrics (whose servers had none). */
export const metricsOf = (x: { metrics?: MetricsSetting | undefined }): MetricsSetting | null =>
	x.metrics ?? null;

export function parseResults(text: string, source = "results.json"): Results {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (error) {
		throw new ResultsError(`${source} is not JSON: ${(error as Error).message}`);
	}
	const parsed = ResultsSchema.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue?.path.join(".") || "(root)";
		throw new ResultsError(
			`${source} does not match the results schema at ${where}: ${issue?.message}`,
		);
	}
	return parsed.data;
}

export function readResults(file: string): Results {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch {
		throw new ResultsError(`cannot read ${file}`);
	}
	return parseResults(text, file);
}

export function writeResults(file: string, results: Results): void {
	// Validate on the way out too: a file that cannot be read back is a bug found early.
	const checked = ResultsSchema.parse(results);
	writeFileSync(file, `${JSON.stringify(checked, null, "\t")}\n`);
}
