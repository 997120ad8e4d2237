import { availableParallelism } from "node:os";
import { z } from "zod";

/** Log levels in increasing verbosity; a message is written when its level is <= the configured one. */
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const Port = z.coerce
	.number({ error: "must be a number" })
	.int("must be a whole number")
	.min(0, "must be 0-65535")
	.max(65535, "must be 0-65535");

const METRICS_VALUES = ["on", "off"] as const;

/**
 * Open Inference Protocol bounds. A request holds its elements several times over: the parsed
 * JSON array, the typed array, onnxruntime's output and the JSON text of the answer, about
 * 80 bytes an element in all (measured: 4 Mi FP32 elements raised a server's peak RSS by
 * 280-340 MiB). 1 Mi elements keep one request near 100 MiB; 8 MiB of JSON holds them.
 */
export const V2_DEFAULTS = { maxBodyBytes: 8 * 1024 * 1024, maxElements: 1024 * 1024 } as const;

/** A whole number from 1 to `max`, from an environment string. */
function positiveWhole(max: number) {
	const rule = `must be a whole number 1-${max}`;
	return z.coerce.number({ error: rule }).int(rule).min(1, rule).max(max, rule);
}

const WORKERS_RULE = 'must be a whole number 1-64 or "auto"';

const ConfigSchema = z.object({
	PORT: Port.default(3000),
	// A stray space (e.g. from an .env file) would otherwise surface later as a puzzling DNS error.
	HOST: z.string().regex(/^\S+$/, "must not contain spaces").default("127.0.0.1"),
	MODELS_DIR: z.string().min(1, "must not be empty").default("models"),
	LOG_LEVEL: z
		.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })
		.default("info"),
	API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
	WORKERS: z
		.union(
			[
				z.literal("auto"),
				z.coerce.number().int(WORKERS_RULE).min(1, WORKERS_RULE).max(64, WORKERS_RULE),
			],
			{
				error: WORKERS_RULE,
			},
		)
		.default(1),
	METRICS: z.enum(METRICS_VALUES, { error: 'must be "on" or "off"' }).default("on"),
	V2_MAX_BODY_BYTES: positiveWhole(2 ** 30).default(V2_DEFAULTS.maxBodyBytes),
	V2_MAX_ELEMENTS: positiveWhole(2 ** 28).default(V2_DEFAULTS.maxElements),
	BENCH_ROUTES: z.enum(["0", "1"], { error: 'must be "1" or "0"' }).default("0"),
	STAGES: z.enum(["0", "1"], { error: 'must be "1" or "0"' }).default("0"),
});

export interface Config {
	port: number;
	host: string;
	modelsDir: string;
	logLevel: LogLevel;
	apiKey: string | undefined;
	/** Server copies sharing the port; 1 serves from this process alone. */
	workers: number;
	/** Prometheus metrics recorded and served at /metrics; off leaves them out of the request path. */
	metrics: boolean;
	/** Open Inference Protocol bounds: the largest /infer body, and tensor elements per request. */
	v2: { maxBodyBytes: number; maxElements: number };
	/** The bench's own routes (POST /bench/floor-post), for `npm run bench` only. */
	benchRoutes: boolean;
	/** Predictions timed stage by stage, served at GET /bench/stages: for `npm run bench -- --stages`. */
	stages: boolean;
}

/** Thrown for a bad environment value; its message is the one line the entry point prints. */
export class ConfigError extends Error {}

function invalid(key: string, value: string | undefined, reason: string): ConfigError {
	// Never echo a secret back, even a malformed one.
	const shown = key === "API_KEY" ? "(hidden)" : JSON.stringify(value ?? "");
	return new ConfigError(`invalid ${key}=${shown}: ${reason}`);
}

/**
 * Reads the service's settings from environment variables; unset or empty means the default,
 * except for API_KEY, where an empty value is an error: `API_KEY=$SECRET` with the secret
 * missing must not start a server whose every route is open.
 */
export function loadConfig(
	env: Record<string, string | undefined>,
	cpuCount = availableParallelism(),
): Config {
	if (env.API_KEY === "") {
		throw invalid("API_KEY", "", "must not be empty (unset it to turn authentication off)");
	}
	const present = Object.fromEntries(
		Object.keys(ConfigSchema.shape).flatMap((key) => {
			const value = env[key];
			return value === undefined || value === "" ? [] : [[key, value]];
		}),
	);
	for (const [key, value] of Object.entries(present)) {
		// Only "" means the default: PORT=" " would otherwise coerce to 0, a random port.
		if (value.trim() === "") throw invalid(key, env[key], "must not be blank");
	}
	const parsed = ConfigSchema.safeParse(present);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const key = String(issue?.path[0] ?? "environment");
		throw invalid(key, env[key], issue?.message ?? "invalid");
	}
	const c = parsed.data;
	const workers = c.WORKERS === "auto" ? cpuCount : c.WORKERS;
	if (workers > 1 && c.PORT === 0) {
		// Each worker would bind its own random port instead of sharing one.
		throw new ConfigError("invalid PORT=0: workers need a fixed port to share (WORKERS > 1)");
	}
	return {
		port: c.PORT,
		host: c.HOST,
		modelsDir: c.MODELS_DIR,
		logLevel: c.LOG_LEVEL,
		apiKey: c.API_KEY,
		workers,
		metrics: c.METRICS === "on",
		v2: { maxBodyBytes: c.V2_MAX_BODY_BYTES, maxElements: c.V2_MAX_ELEMENTS },
		benchRoutes: c.BENCH_ROUTES === "1",
		stages: c.STAGES === "1",
	};
}
