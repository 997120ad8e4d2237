import process from "node:process";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp, PASSENGER_FIELDS } from "../app.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { loadRegistry, ModelLoadError } from "../inference/registry.ts";
import { createLogger } from "../logger.ts";

/** What a runtime adapter returns once it is listening. */
export interface Listener {
	readonly url: string;
	/** Stops accepting, lets in-flight requests finish, then resolves. */
	close(): Promise<void>;
}

/** The one thing each runtime does differently: bind the app's fetch to a socket. */
export type Listen = (app: OpenAPIHono, config: Config) => Promise<Listener>;

/** A startup problem the adapter recognised, e.g. a port in use; printed as one line. */
export class ListenError extends Error {}

/** Longest wait for in-flight requests on SIGTERM before the process exits anyway. */
const DRAIN_TIMEOUT_MS = 4000;

function fail(message: string): never {
	console.error(`titanic-serve: ${message}`);
	process.exit(1);
}

/**
 * The lifecycle every entry point shares: validate the environment, load and verify every model
 * before binding (never listening half-loaded), listen, warm up (/ready turns 200), and drain on
 * SIGINT/SIGTERM. Expected failures print one line and exit 1.
 */
export async function run(runtime: string, listen: Listen): Promise<void> {
	let config: Config;
	try {
		config = loadConfig(process.env);
	} catch (error) {
		if (error instanceof ConfigError) fail(error.message);
		throw error;
	}
	const logger = createLogger(config.logLevel);

	const registry = await loadRegistry(config.modelsDir, PASSENGER_FIELDS).catch((error) => {
		if (error instanceof ModelLoadError) fail(`cannot load models: ${error.message}`);
		fail(`cannot load models from ${config.modelsDir}: ${String(error).split("\n")[0]}`);
	});

	let listener: Listener;
	try {
		listener = await listen(createApp(registry, { logger, apiKey: config.apiKey }), config);
	} catch (error) {
		await registry.close();
		const reason = error instanceof ListenError ? error.message : String(error).split("\n")[0];
		fail(`cannot listen on ${config.host}:${config.port}: ${reason}`);
	}
	logger.info(`listening on ${listener.url} (${runtime})`);

	let stopping = false;
	const stop = async (signal: string) => {
		if (stopping) return;
		stopping = true;
		logger.info(`${signal}: draining in-flight requests`);
		const deadline = setTimeout(() => {
			logger.warn(`drain took over ${DRAIN_TIMEOUT_MS} ms; exiting`);
			process.exit(0);
		}, DRAIN_TIMEOUT_MS);
		await listener.close();
		await registry.close();
		clearTimeout(deadline);
		logger.info("stopped");
		process.exit(0);
	};
	process.on("SIGINT", () => void stop("SIGINT"));
	process.on("SIGTERM", () => void stop("SIGTERM"));

	await registry.warm().catch((error) => fail(String(error).split("\n")[0] ?? "warm-up failed"));
	logger.info(
		`ready: ${registry.ids.join(", ")} (${Math.round(performance.now())} ms after start)`,
	);
}
