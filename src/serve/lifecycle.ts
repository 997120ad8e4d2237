import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp, PASSENGER_FIELDS } from "../app.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { loadRegistry, ModelLoadError } from "../inference/registry.ts";
import { createLogger, type Logger } from "../logger.ts";
import { warmRequestPath } from "./warm-up.ts";

/** What a runtime adapter returns once it is listening. */
export interface Listener {
	readonly url: string;
	/** Stops accepting, lets in-flight requests finish, then resolves. */
	close(): Promise<void>;
}

/** A copy of the server started by the supervisor. */
export interface WorkerHandle {
	/** Asks the worker to drain and exit. */
	stop(): void;
	/** Resolves with the worker's exit status. */
	readonly exited: Promise<number>;
}

/**
 * Everything that differs between Node, Bun and Deno, and nothing else: how to bind the app to
 * a socket, how a copy of the server is started and told to stop, and how to exit.
 */
export interface RuntimeAdapter {
	/** e.g. "node v24.21.0", for the logs. */
	readonly name: string;
	/** Binds the app; with `reusePort`, several workers share the port (SO_REUSEPORT). */
	listen(app: OpenAPIHono, config: Config, options: { reusePort: boolean }): Promise<Listener>;
	/** This copy's worker number, or null in the copy the user started. */
	readonly workerIndex: number | null;
	/** Starts worker `index` running this same entry point. */
	startWorker(index: number): WorkerHandle;
	/** Calls `stop` when this copy is asked to shut down (a signal, or its supervisor). */
	onShutdownRequest(stop: (reason: string) => void): void;
	exit(code: number): never;
}

/** A startup problem the adapter recognised, e.g. a port in use; printed as one line. */
export class ListenError extends Error {}

/** Longest wait for in-flight requests on SIGTERM before the process exits anyway. */
const DRAIN_TIMEOUT_MS = 4000;
/** How long responses announce "Connection: close" before the listener stops. */
const CLOSE_NOTICE_MS = 250;
/** A worker that dies sooner than this after its start failed to start: give up, don't loop. */
const WORKER_STARTUP_MS = 10_000;

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split("\n")[0];

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
		supervise(runtime, config, logger);
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
	const registry = await loadRegistry(config.modelsDir, PASSENGER_FIELDS).catch((error) =>
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
	});
	try {
		listener = await runtime.listen(app, config, { reusePort: config.workers > 1 });
	} catch (error) {
		await registry.close();
		const reason = error instanceof ListenError ? error.message : firstLine(error);
		return fail(`cannot listen on ${config.host}:${config.port}: ${reason}`);
	}
	logger.info(`listening on ${listener.url} (${runtime.name})`);

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
		await warmRequestPath(app, registry.ids);
		await registry.warm();
	} catch (error) {
		fail(`warm-up failed: ${firstLine(error)}`);
	}
	logger.info(
		`ready: ${registry.ids.join(", ")} (${Math.round(performance.now())} ms after start)`,
	);
}

function supervise(runtime: RuntimeAdapter, config: Config, logger: Logger): void {
	logger.info(
		`starting ${config.workers} workers on ${config.host}:${config.port} (${runtime.name})`,
	);
	const workers = new Map<number, WorkerHandle>();
	let stopping = false;
	let exitCode = 0;

	const stopAll = (reason: string, code: number) => {
		if (stopping) return;
		stopping = true;
		exitCode = code;
		logger.info(`${reason}: stopping ${workers.size} workers`);
		for (const worker of workers.values()) worker.stop();
		if (workers.size === 0) runtime.exit(exitCode);
		// Each worker drains within DRAIN_TIMEOUT_MS; this only guards against a hung one.
		setTimeout(() => runtime.exit(exitCode), DRAIN_TIMEOUT_MS + 1000).unref?.();
	};

	const start = (index: number) => {
		const startedAt = Date.now();
		const worker = runtime.startWorker(index);
		workers.set(index, worker);
		void worker.exited.then((code) => {
			workers.delete(index);
			if (stopping) {
				if (workers.size === 0) runtime.exit(exitCode);
			} else if (Date.now() - startedAt < WORKER_STARTUP_MS) {
				// Its own one-line error says why; restarting would only repeat it.
				stopAll(`worker ${index} failed to start (exit ${code})`, 1);
			} else {
				logger.warn(`worker ${index} exited with ${code}; restarting it`);
				start(index);
			}
		});
	};

	runtime.onShutdownRequest((reason) => stopAll(reason, 0));
	for (let index = 1; index <= config.workers; index++) start(index);
}
