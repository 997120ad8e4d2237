import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { PEERS, type PeerName } from "./peers.ts";
import { FLOOR, FLOOR_POST, METRICS_SETTINGS, type MetricsSetting } from "./results.ts";
import { RUNTIMES, type RuntimeName } from "./runtimes.ts";
import { parseTarget, type Target, TargetError } from "./targets.ts";
import { checkV2Name, V2Error, v2Cell } from "./v2.ts";

export const MODELS = ["mlp-onnx", "gbdt-onnx", "mlp-ts", "gbdt-ts"] as const;
const LOADGENS = ["auto", "oha", "h2load", "builtin"] as const;
export type LoadgenMode = (typeof LOADGENS)[number];

export const DEFAULT_BODY = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';

export interface Options {
	runtimes: RuntimeName[];
	/** Reference servers started like a runtime (peers/<name>/), after the runtimes in each round. */
	peers: PeerName[];
	/** Running servers measured as they are (--target NAME=URL), after the peers in each round. */
	targets: Target[];
	models: string[];
	requests: number;
	concurrency: number[];
	warmup: number;
	rounds: number;
	loadgen: LoadgenMode;
	/** null means bench/results/<timestamp>/. */
	out: string | null;
	/** The file the body came from, or "(default)". */
	bodySource: string;
	/** --v2 NAME --input FILE: model NAME over /v2/models/NAME/infer (cell v2:NAME), FILE its body. */
	v2: { name: string; input: string } | null;
	pin: boolean;
	/** null means a free port per server. */
	port: number | null;
	/** WORKERS values, "auto" resolved to the bench machine's CPU count. */
	workers: number[];
	/** As given, e.g. ["1", "auto"], for results.json. */
	workersSpec: string[];
	/** METRICS values per server, e.g. on and off to measure what metrics cost. */
	metrics: MetricsSetting[];
	/** --stages: our runtimes' servers time each prediction by stage (STAGES=1), read per cell. */
	stages: boolean;
	/** --soak: sustained-load mode for this long (ms); null runs the normal bench. */
	soakMs: number | null;
	/** --soak-mark: the RSS sample the growth criterion compares against (ms). */
	soakMarkMs: number;
	/** Whether --models was given (soak picks its own default otherwise). */
	modelsGiven: boolean;
	/** Whether --concurrency was given (soak defaults to 32 otherwise). */
	concurrencyGiven: boolean;
	help: boolean;
}

/**
 * Rounds default to 3 (runtimes interleaved A B C A B C, tables quote medians over the rounds): the
 * default run measured well under the 3-minute budget on a 2-core machine (see bench/README.md).
 * Warm-up 1000: after 200, Node was still compiling its HTTP path (README, "The tail"), and its
 * default-run mean was 1.69x its p50 against 1.06-1.32x after 2000.
 */
export const DEFAULTS = {
	requests: 1000,
	concurrency: [1],
	warmup: 1000,
	rounds: 3,
	loadgen: "auto" as LoadgenMode,
	workers: ["1"],
	metrics: ["on"] as MetricsSetting[],
	soakConcurrency: 32,
	soakMarkMs: 10_000,
};

export const USAGE = `usage: npm run bench -- [options]
  --runtimes LIST     node,bun,deno (default all three)
  --models LIST       ${MODELS.join(",")},${FLOOR},${FLOOR_POST} (default all)
  --v2 NAME           also measure model NAME (NAME.onnx in the servers' MODELS_DIR) over
                      POST /v2/models/NAME/infer, as cell v2:NAME; needs --input
  --input FILE        the V2 inference request body for --v2 (JSON with an "inputs" array)
  --peers LIST        reference servers started like a runtime: ${PEERS.join(",")} (fastapi's
                      cells: mlp for mlp-ts or mlp-onnx, floor, floor-post; other models are skipped
                      for it; the bare runtime servers' (no framework, no validation): all six)
  --target NAME=URL   a running server measured as runtime NAME, POSTed the body at URL (repeatable)
  --requests N        measured requests per cell (default ${DEFAULTS.requests})
  --concurrency LIST  e.g. 1,16,64 for a throughput sweep (default 1)
  --warmup N          unmeasured requests before each cell (default ${DEFAULTS.warmup})
  --rounds N          rounds, runtimes interleaved; tables quote medians over them (default ${DEFAULTS.rounds})
  --loadgen MODE      auto|oha|h2load|builtin (auto: oha >= 1.9 if found, else h2load, else builtin)
  --out DIR           output folder (default bench/results/<timestamp>/)
  --body FILE         JSON request body for /predict (default a third-class male passenger)
  --port N            fixed server port (default a free port per server)
  --pin               server on core 0, load generator on core 1 (needs taskset, 2 cores)
  --workers LIST      WORKERS values per server, e.g. 1,2 or 1,auto (default 1; auto = CPU count)
  --metrics LIST      METRICS values per server (default on); on,off measures what metrics cost: both
                      servers up at once, requests alternating between them (concurrency 1, builtin)
  --stages            adds the table "Where a prediction's time goes": each runtime also runs a
                      second server that times every prediction stage by stage (STAGES=1), and
                      model cells at concurrency 1 are measured beside floor-post (one worker,
                      one --metrics value)
  --soak DURATION     sustained load instead, e.g. 60s or 2m: per runtime, concurrency 32 (or the one
                      --concurrency value) rotating over --models, server RSS sampled every second
  --soak-mark D       the RSS sample the soak's growth criterion compares against (default 10s)`;

export class UsageError extends Error {}

function list<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
	const values = raw.split(",").map((v) => v.trim());
	const seen = new Set<T>();
	for (const value of values) {
		if (!(allowed as readonly string[]).includes(value)) {
			throw new UsageError(`unknown ${name} "${value}" (expected one of ${allowed.join(", ")})`);
		}
		seen.add(value as T);
	}
	if (seen.size !== values.length) throw new UsageError(`--${name}s lists a value twice: ${raw}`);
	return [...seen];
}

function integer(name: string, raw: string, min: number): number {
	if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be an integer, got "${raw}"`);
	const value = Number(raw);
	if (value < min || !Number.isSafeInteger(value)) {
		throw new UsageError(`--${name} must be at least ${min}, got ${raw}`);
	}
	return value;
}

export function parseOptions(argv: readonly string[]): Options {
	let parsed: ReturnType<typeof parseRaw>;
	try {
		parsed = parseRaw(argv);
	} catch (error) {
		// parseArgs' messages run over several lines; the first says what was wrong.
		const first = (error as Error).message.split("\n")[0] ?? "bad arguments";
		throw new UsageError(first.replace(/\. To specify a positional argument.*$/, ""));
	}
	const { values, positionals } = parsed;
	if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
	const concurrency = (values.concurrency ?? DEFAULTS.concurrency.join(","))
		.split(",")
		.map((c) => integer("concurrency", c, 1));
	if (new Set(concurrency).size !== concurrency.length) {
		throw new UsageError(`--concurrency lists a value twice: ${values.concurrency}`);
	}
	const loadgen = values.loadgen ?? DEFAULTS.loadgen;
	if (!(LOADGENS as readonly string[]).includes(loadgen)) {
		throw new UsageError(`unknown loadgen "${loadgen}" (expected one of ${LOADGENS.join(", ")})`);
	}
	const requests =
		values.requests === undefined ? DEFAULTS.requests : integer("requests", values.requests, 1);
	if (concurrency.some((c) => c > requests)) {
		throw new UsageError(
			`--concurrency ${Math.max(...concurrency)} exceeds --requests ${requests}`,
		);
	}
	const soakMs = values.soak === undefined ? null : parseDuration("soak", values.soak);
	const soakMarkMs =
		values["soak-mark"] === undefined
			? DEFAULTS.soakMarkMs
			: parseDuration("soak-mark", values["soak-mark"]);
	if (soakMs === null && values["soak-mark"] !== undefined) {
		throw new UsageError("--soak-mark needs --soak");
	}
	// The option that makes the run a soak at all is the one to name first.
	if (soakMs !== null && values.stages) {
		throw new UsageError("--stages times the cells of a normal run: it takes no --soak");
	}
	if (soakMs !== null && soakMarkMs >= soakMs) {
		throw new UsageError(
			`--soak-mark (${soakMarkMs / 1000} s) must be shorter than --soak (${soakMs / 1000} s)`,
		);
	}
	if (soakMs !== null && concurrency.length > 1) {
		throw new UsageError("--soak takes one --concurrency value");
	}
	const metrics =
		values.metrics === undefined
			? [...DEFAULTS.metrics]
			: list("metric", values.metrics, METRICS_SETTINGS);
	if (soakMs !== null && metrics.length > 1) {
		throw new UsageError("--soak takes one --metrics value");
	}
	// Both values: the two servers run at once and are measured paired, one request at a time.
	if (metrics.length > 1 && (concurrency.length > 1 || concurrency[0] !== 1)) {
		throw new UsageError(
			"--metrics on,off measures paired requests one at a time: it takes no --concurrency but 1",
		);
	}
	if (metrics.length > 1 && values.port !== undefined) {
		throw new UsageError("--metrics on,off runs two servers at once: it cannot take --port");
	}
	const runtimes =
		values.runtimes === undefined ? [...RUNTIMES] : list("runtime", values.runtimes, RUNTIMES);
	const peers = values.peers === undefined ? [] : list("peer", values.peers, PEERS);
	const targets = parseTargets(values.target ?? []);
	if (soakMs !== null && peers.length + targets.length > 0) {
		throw new UsageError("--soak measures our runtimes only: it takes no --peers or --target");
	}
	const v2 = parseV2(values.v2, values.input);
	if (soakMs !== null && v2 !== null) throw new UsageError("--soak takes no --v2");
	const models =
		values.models === undefined
			? [...MODELS, FLOOR, FLOOR_POST]
			: list("model", values.models, [...MODELS, FLOOR, FLOOR_POST] as const);
	const workers = parseWorkers(values.workers ?? DEFAULTS.workers.join(","));
	const stages = values.stages ?? false;
	if (stages) checkStagesRun({ metrics, workers, models });
	return {
		runtimes,
		peers,
		targets,
		models: [...models, ...(v2 === null ? [] : [v2Cell(v2.name)])],
		requests,
		concurrency,
		warmup: values.warmup === undefined ? DEFAULTS.warmup : integer("warmup", values.warmup, 0),
		rounds: values.rounds === undefined ? DEFAULTS.rounds : integer("rounds", values.rounds, 1),
		loadgen: loadgen as LoadgenMode,
		out: values.out ?? null,
		bodySource: values.body ?? "(default)",
		v2,
		pin: values.pin ?? false,
		port: values.port === undefined ? null : port(values.port),
		workers,
		workersSpec: (values.workers ?? DEFAULTS.workers.join(",")).split(",").map((v) => v.trim()),
		metrics,
		stages,
		soakMs,
		soakMarkMs,
		modelsGiven: values.models !== undefined,
		concurrencyGiven: values.concurrency !== undefined,
		help: values.help ?? false,
	};
}

/**
 * --stages reads one server process's timers per prediction cell (a soak, which has no cells, is
 * refused where --soak is read): not with two servers at once (--metrics on,off) or several
 * worker processes (each keeps its own).
 */
function checkStagesRun(run: {
	metrics: readonly MetricsSetting[];
	workers: readonly number[];
	models: readonly string[];
}): void {
	if (run.metrics.length > 1) {
		throw new UsageError("--stages reads one server per cell: it takes one --metrics value");
	}
	if (run.workers.some((w) => w !== 1)) {
		throw new UsageError(
			"--stages reads one server process's timers: it takes no --workers but 1 (each worker keeps its own)",
		);
	}
	if (!run.models.some((m) => (MODELS as readonly string[]).includes(m))) {
		throw new UsageError(`--stages times predictions: --models needs one of ${MODELS.join(", ")}`);
	}
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60s", "2m", "1500ms", "1h"; a bare number means seconds. */
export function parseDuration(name: string, raw: string): number {
	const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
	const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? "s"] as number) : Number.NaN;
	if (!match || !Number.isFinite(ms)) {
		throw new UsageError(`--${name} must be a duration like 60s, 2m or 500ms, got "${raw}"`);
	}
	if (ms < 1) throw new UsageError(`--${name} must be longer than 0, got ${raw}`);
	return Math.round(ms);
}

/** "1,2,auto" -> [1, 2, <cores>]; a value twice (auto included) is an error. */
export function parseWorkers(raw: string, cores = availableParallelism()): number[] {
	const values = raw.split(",").map((v) => v.trim());
	const out = values.map((value) => {
		if (value === "auto") return cores;
		if (!/^\d+$/.test(value)) {
			throw new UsageError(`--workers takes whole numbers 1-64 or "auto", got "${value}"`);
		}
		const n = Number(value);
		if (n < 1 || n > 64) throw new UsageError(`--workers values must be 1-64, got ${value}`);
		return n;
	});
	if (new Set(out).size !== out.length) {
		throw new UsageError(
			`--workers lists a value twice: ${raw}${raw.includes("auto") ? ` (auto = ${cores})` : ""}`,
		);
	}
	return out;
}

/** Each NAME=URL, its name clashing with no runtime, peer (given or not) or earlier target. */
function parseTargets(raws: readonly string[]): Target[] {
	const targets: Target[] = [];
	for (const raw of raws) {
		try {
			const taken = [...RUNTIMES, ...PEERS, ...targets.map((t) => t.name)];
			targets.push(parseTarget(raw, taken));
		} catch (error) {
			if (error instanceof TargetError) throw new UsageError(error.message);
			throw error;
		}
	}
	return targets;
}

/** --v2 NAME and --input FILE come together; NAME must be a model name the service accepts. */
function parseV2(
	name: string | undefined,
	input: string | undefined,
): { name: string; input: string } | null {
	if (name === undefined && input === undefined) return null;
	if (name === undefined) throw new UsageError("--input is the body for --v2 NAME: give both");
	if (input === undefined)
		throw new UsageError(`--v2 ${name} needs --input FILE (its request body)`);
	try {
		return { name: checkV2Name(name), input };
	} catch (error) {
		if (error instanceof V2Error) throw new UsageError(error.message);
		throw error;
	}
}

function port(raw: string): number {
	const value = integer("port", raw, 1);
	if (value > 65535) throw new UsageError(`--port must be at most 65535, got ${raw}`);
	return value;
}

function parseRaw(argv: readonly string[]) {
	return parseArgs({
		args: [...argv],
		strict: true,
		allowPositionals: true,
		options: {
			runtimes: { type: "string" },
			models: { type: "string" },
			v2: { type: "string" },
			input: { type: "string" },
			peers: { type: "string" },
			target: { type: "string", multiple: true },
			requests: { type: "string" },
			concurrency: { type: "string" },
			warmup: { type: "string" },
			rounds: { type: "string" },
			loadgen: { type: "string" },
			out: { type: "string" },
			body: { type: "string" },
			port: { type: "string" },
			workers: { type: "string" },
			metrics: { type: "string" },
			soak: { type: "string" },
			"soak-mark": { type: "string" },
			stages: { type: "boolean" },
			pin: { type: "boolean" },
			help: { type: "boolean", short: "h" },
		},
	});
}
