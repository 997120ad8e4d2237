import { LOG_LEVELS, type LogLevel } from "./config.ts";

export interface Logger {
	error(message: string): void;
	warn(message: string): void;
	info(message: string): void;
	debug(message: string): void;
	/** Whether debug lines are written: per-request logging is only wired in when they are. */
	readonly debugEnabled: boolean;
}

/** One line per message on stderr, dropped below the configured level. */
export function createLogger(
	level: LogLevel,
	write = (line: string) => console.error(line),
): Logger {
	const limit = LOG_LEVELS.indexOf(level);
	const at = (name: LogLevel) =>
		LOG_LEVELS.indexOf(name) <= limit ? (m: string) => write(`${name}: ${m}`) : () => {};
	return {
		error: at("error"),
		warn: at("warn"),
		info: at("info"),
		debug: at("debug"),
		debugEnabled: LOG_LEVELS.indexOf("debug") <= limit,
	};
}
