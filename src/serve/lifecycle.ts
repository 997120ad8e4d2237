import { PASSENGER_FIELDS } from "../api/schemas.ts";
import { createApp } from "../app.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { firstLine } from "../failure.ts";
import { loadRegistry, ModelLoadError } from "../inference/registry.ts";
import { createLogger, type Logger } from "../logger.ts";
import { portTaken } from "./port.ts";
import { ListenError, type Listener, type RuntimeAdapter } from "./runtime.ts";
import { supervise } from "./supervisor.ts";
import { warmRequestPath } from "./warm-up.ts";

/** Longest wait for in-flight requests on SIGTERM before the process exits anyway. */
const DRAIN_TIMEOUT_MS = 4000;
/** How long responses announce "Connection: close" before the listener stops. */
const CLOSE_NOTICE_MS = 250;

/**
 * The lifecycle every entry point shares. With WORKERS=1 this copy serves; with more, it
 * supervises that many copies of itself sharing the port, restarts one that crashes, and
 * drains them all on SIGINT/SIGTERM. Expected failures print one line and exit 1.
 */
export async function run(runtime: RuntimeAdapter, env: Record<string, string | undefined>) {
	const fail = (message: string): never => {
		console.error(`titanic-serve: ${message}`);
		return runtime.exit(1);
	};
	let config: Config;
	try {
		config = loadConfig(env);
	} catch (error) {
		if (error instanceof ConfigError) fail(error.message);
		throw error;
	}
	const label = runtime.workerIndex === null ? "" : `worker ${runtime.workerIndex}: `;
	const logger = createLogger(config.logLevel, (line) => console.error(`${label}${line}`));

	if (config.workers > 1 && runtime.workerIndex === null) {
		if (await portTaken(config.host, config.port)) {
			fail(`cannot listen on ${config.host}:${config.port}: address already in use`);
		}
		supervise(runtime, config, logger, DRAIN_TIMEOUT_MS);
	} else {
		await serve(runtime, config, logger, fail);
	}
}

async function serve(
	runtime: RuntimeAdapter,
	config: Config,
	logger: Logger,
	fail: (message: string) => never,
): Promise<void> {
	// Load and verify every model before binding: the server never listens half-loaded.
	const registry = await loadRegistry(config.modelsDir, PASSENGER_FIELDS, {
		warn: (line) => logger.warn(line),
	}).catch((error) =>
		fail(
			error instanceof ModelLoadError
				? `cannot load models: ${error.message}`
				: `cannot load models from ${config.modelsDir}: ${firstLine(error)}`,
		),
	);

	let listener: Listener;
	let stopping = false;
	const app = createApp(registry, {
		logger,
		apiKey: config.apiKey,
		isDraining: () => stopping,
		metrics: config.metrics,
		v2: config.v2,
		benchRoutes: config.benchRoutes,
		stages: config.stages,
	});
	try {
		listener = await runtime.listen(app, config, { reusePort: config.workers > 1 });
	} catch (error) {
		await registry.close();
		const reason = error instanceof ListenError ? error.message : firstLine(error);
		return fail(`cannot listen on ${config.host}:${config.port}: ${reason}`);
	}
	logger.info(`listening on ${listener.url} (${runtime.name})`);
	if (config.benchRoutes) {
		logger.warn("BENCH_ROUTES=1: the bench's own route POST /bench/floor-post is mounted");
	}
	if (config.stages) {
		logger.warn("STAGES=1: predictions are timed stage by stage, served at GET /bench/stages");
	}

	runtime.onShutdownRequest(async (reason) => {
		if (stopping) return;
		stopping = true;
		logger.info(`${reason}: draining in-flight requests`);
		const deadline = setTimeout(() => {
			logger.warn(`drain took over ${DRAIN_TIMEOUT_MS} ms; exiting`);
			runtime.exit(0);
		}, DRAIN_TIMEOUT_MS);
		// First, while still listening, let each busy keep-alive connection take its next response
		// with "Connection: close"; only then stop the listener, which drops idle connections. A
		// request already on its way over a kept-alive connection is thus answered, not reset.
		await new Promise((resolve) => setTimeout(resolve, CLOSE_NOTICE_MS));
		await listener.close();
		await registry.close();
		clearTimeout(deadline);
		logger.info("stopped");
		runtime.exit(0);
	});

	try {
		const warming = { apiKey: config.apiKey, stopped: () => stopping };
		const warmed = await warmRequestPath(app, registry.ids, warming);
		if (stopping) return; // the drain under way exits
		logger.info(`warmed the request path: ${warmed.requests} requests in ${warmed.ms} ms`);
		await registry.warm();
	} catch (error) {
		fail(`warm-up failed: ${firstLine(error)}`);
	}
	// The supervisor first, so that a worker's "ready" line always means its supervisor knows.
	await runtime.reportReady();
	logger.info(
		`ready: ${[...registry.ids, ...registry.graphs.map((g) => g.name)].join(", ")} (${Math.round(performance.now())} ms after start)`,
	);
}
