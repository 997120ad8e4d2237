import { z } from "zod";

/** Log levels in increasing verbosity; a message is written when its level is <= the configured one. */
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const Port = z.coerce
	.number({ error: "must be a number" })
	.int("must be a whole number")
	.min(0, "must be 0-65535")
	.max(65535, "must be 0-65535");

const ConfigSchema = z.object({
	PORT: Port.default(3000),
	HOST: z.string().min(1, "must not be empty").default("127.0.0.1"),
	MODELS_DIR: z.string().min(1, "must not be empty").default("models"),
	LOG_LEVEL: z
		.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })
		.default("info"),
	API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
});

export interface Config {
	port: number;
	host: string;
	modelsDir: string;
	logLevel: LogLevel;
	apiKey: string | undefined;
}

/** Thrown for a bad environment value; its message is the one line the entry point prints. */
export class ConfigError extends Error {}

/** Reads the service's settings from environment variables; unset or empty means the default. */
export function loadConfig(env: Record<string, string | undefined>): Config {
	const present = Object.fromEntries(
		Object.keys(ConfigSchema.shape).flatMap((key) => {
			const value = env[key];
			return value === undefined || value === "" ? [] : [[key, value]];
		}),
	);
	const parsed = ConfigSchema.safeParse(present);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const key = String(issue?.path[0] ?? "environment");
		// Never echo a secret back, even a malformed one.
		const shown = key === "API_KEY" ? "(hidden)" : JSON.stringify(env[key] ?? "");
		throw new ConfigError(`invalid ${key}=${shown}: ${issue?.message}`);
	}
	const c = parsed.data;
	return {
		port: c.PORT,
		host: c.HOST,
		modelsDir: c.MODELS_DIR,
		logLevel: c.LOG_LEVEL,
		apiKey: c.API_KEY,
	};
}
