import { spawn } from "node:child_process";
import process from "node:process";
import type { RuntimeAdapter, WorkerHandle } from "./runtime.ts";

/** Set in a worker's environment to its number; absent in the copy the user started. */
const WORKER_ENV = "TITANIC_WORKER";
/** What a worker sends its supervisor over the IPC channel once it is ready. */
const READY_MESSAGE = "ready";

const workerIndex = process.env[WORKER_ENV] ? Number(process.env[WORKER_ENV]) : null;

/**
 * Workers as child processes re-running this entry point, an IPC channel for their readiness,
 * and POSIX signals for shutdown: how Node and Bun run copies of the server (Deno uses worker
 * threads instead, see deno.ts).
 */
export const processWorkers: Pick<
	RuntimeAdapter,
	"workerIndex" | "startWorker" | "reportReady" | "onShutdownRequest" | "exit"
> = {
	workerIndex,

	startWorker(index: number): WorkerHandle {
		const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? ""], {
			env: { ...process.env, [WORKER_ENV]: String(index) },
			stdio: ["inherit", "inherit", "inherit", "ipc"],
		});
		return {
			stop: () => child.kill("SIGTERM"),
			ready: new Promise((resolve) =>
				child.on("message", (message) => message === READY_MESSAGE && resolve()),
			),
			// "close", unlike "exit", comes after every message the worker sent: a worker that
			// reported ready and died at once is not taken for one that failed to start.
			exited: new Promise((resolve) =>
				child.once("close", (code, signal) => resolve({ code, signal })),
			),
		};
	},

	reportReady() {
		// Only to our own supervisor: a process manager that started this copy with an IPC
		// channel of its own has not asked for the message. Resolved once the message is written,
		// so the "ready" line that follows is never seen before the supervisor can know it.
		return new Promise<void>((resolve) => {
			if (workerIndex === null || !process.connected || !process.send) return resolve();
			process.send(READY_MESSAGE, undefined, undefined, () => resolve());
		});
	},

	onShutdownRequest(stop) {
		process.on("SIGINT", () => stop("SIGINT"));
		process.on("SIGTERM", () => stop("SIGTERM"));
		// A supervisor killed outright (SIGKILL, OOM) sends no signal: its closed IPC channel is
		// the only notice, and without it the workers would hold the port forever.
		if (workerIndex !== null) process.once("disconnect", () => stop("supervisor gone"));
	},

	exit: (code) => process.exit(code),
};
