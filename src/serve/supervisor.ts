import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { RuntimeAdapter, WorkerExit, WorkerHandle } from "./runtime.ts";

/** The delay before restarting a worker that crashed after becoming ready... */
const FIRST_RESTART_DELAY_MS = 100;
/** ...doubled after each crash up to this, so one that keeps crashing cannot spin the CPU... */
const MAX_RESTART_DELAY_MS = 5_000;
/** ...and back to the first once the worker had stayed up this long since it was ready. */
const STABLE_UPTIME_MS = 30_000;

/** The parts of a runtime the supervisor uses. */
export type SupervisorRuntime = Pick<
	RuntimeAdapter,
	"name" | "startWorker" | "onShutdownRequest" | "exit"
>;

/** "was killed by SIGKILL" or "exited with 3". */
export function describeExit(exit: WorkerExit): string {
	return exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
}

/**
 * Runs `config.workers` copies of the server. A worker that dies before it first reported ready
 * failed to start (its own one-line error says why; restarting would only repeat it): all stop
 * and the process exits 1. Once a worker has been ready, it is restarted whenever it dies, its
 * replacements included even before they are ready (what served once is no configuration
 * error), after a backoff. On
 * SIGINT/SIGTERM all workers drain and the process exits 0. `workerDrainTimeoutMs` is the longest
 * a worker takes to drain, after which a hung one is abandoned.
 */
export function supervise(
	runtime: SupervisorRuntime,
	config: Pick<Config, "workers" | "host" | "port">,
	logger: Logger,
	workerDrainTimeoutMs: number,
): void {
	logger.info(
		`starting ${config.workers} workers on ${config.host}:${config.port} (${runtime.name})`,
	);
	const workers = new Map<number, WorkerHandle>();
	const pendingRestarts = new Map<number, ReturnType<typeof setTimeout>>();
	const nextRestartDelay = new Map<number, number>();
	/** Worker numbers that have been ready at least once. */
	const servedBefore = new Set<number>();
	let stopping = false;
	let exitCode = 0;

	const stopAll = (reason: string, code: number) => {
		if (stopping) return;
		stopping = true;
		exitCode = code;
		for (const timer of pendingRestarts.values()) clearTimeout(timer);
		pendingRestarts.clear();
		(code === 0 ? logger.info : logger.error)(
			`${reason}: stopping the workers (${workers.size} running)`,
		);
		for (const worker of workers.values()) worker.stop();
		if (workers.size === 0) return runtime.exit(exitCode);
		setTimeout(() => runtime.exit(exitCode), workerDrainTimeoutMs + 1000).unref?.();
	};

	const restartDelay = (index: number, readyAt: number): number => {
		const stayedUp = Date.now() - readyAt >= STABLE_UPTIME_MS;
		const delay = stayedUp
			? FIRST_RESTART_DELAY_MS
			: (nextRestartDelay.get(index) ?? FIRST_RESTART_DELAY_MS);
		nextRestartDelay.set(index, Math.min(delay * 2, MAX_RESTART_DELAY_MS));
		return delay;
	};

	const scheduleRestart = (index: number, readyAt: number | null, exit: WorkerExit) => {
		// A replacement that died before ready had no uptime: its backoff keeps growing.
		const delay = restartDelay(index, readyAt ?? Date.now());
		const when = readyAt === null ? " before it was ready" : "";
		logger.warn(`worker ${index} ${describeExit(exit)}${when}; restarting it in ${delay} ms`);
		const restart = () => {
			pendingRestarts.delete(index);
			start(index);
		};
		pendingRestarts.set(index, setTimeout(restart, delay));
	};

	const start = (index: number) => {
		const worker = runtime.startWorker(index);
		workers.set(index, worker);
		let readyAt: number | null = null;
		void worker.ready.then(() => {
			readyAt = Date.now();
			servedBefore.add(index);
		});
		void worker.exited.then((exit) => {
			workers.delete(index);
			if (stopping) {
				if (workers.size === 0) runtime.exit(exitCode);
			} else if (readyAt === null && !servedBefore.has(index)) {
				stopAll(`worker ${index} failed to start (it ${describeExit(exit)})`, 1);
			} else {
				scheduleRestart(index, readyAt, exit);
			}
		});
	};

	runtime.onShutdownRequest((reason) => stopAll(reason, 0));
	for (let index = 1; index <= config.workers; index++) start(index);
}
