import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Config } from "../config.ts";

/**
 * The contract each entry point (node.ts, bun.ts, deno.ts) fulfils for the shared lifecycle
 * (lifecycle.ts) and supervisor (supervisor.ts): what differs between the runtimes, typed once.
 */

/** What a runtime adapter returns once it is listening. */
export interface Listener {
	readonly url: string;
	/** Stops accepting, lets in-flight requests finish, then resolves. */
	close(): Promise<void>;
}

/** How a worker ended: its exit status, or the signal that killed it. */
export interface WorkerExit {
	readonly code: number | null;
	readonly signal: string | null;
}

/** A copy of the server started by the supervisor. */
export interface WorkerHandle {
	/** Asks the worker to drain and exit. */
	stop(): void;
	/** Resolves once the worker reports ready; never, if it dies first. */
	readonly ready: Promise<void>;
	/** Resolves when the worker has ended, after `ready` if it was reported. */
	readonly exited: Promise<WorkerExit>;
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
	/**
	 * Tells the supervisor this worker is ready, resolving once told; does nothing in the copy the
	 * user started.
	 */
	reportReady(): Promise<void>;
	/** Calls `stop` when this copy is asked to shut down (a signal, or its supervisor). */
	onShutdownRequest(stop: (reason: string) => void): void;
	exit(code: number): never;
}

/** A startup problem the adapter recognised, e.g. a port in use; printed as one line. */
export class ListenError extends Error {}
