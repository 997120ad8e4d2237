import { spawn } from "node:child_process";
import process from "node:process";
import type { RuntimeAdapter, WorkerHandle } from "./lifecycle.ts";

/** Set in a worker's environment to its number; absent in the copy the user started. */
const WORKER_ENV = "TITANIC_WORKER";

/**
 * Workers as child processes re-running this entry point, and POSIX signals for shutdown: how
 * Node and Bun run copies of the server (Deno uses worker threads instead, see deno.ts).
 */
export const processWorkers: Pick<
	RuntimeAdapter,
	"workerIndex" | "startWorker" | "onShutdownRequest" | "exit"
> = {
	workerIndex: process.env[WORKER_ENV] ? Number(process.env[WORKER_ENV]) : null,

	startWorker(index: number): WorkerHandle {
		const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? ""], {
			env: { ...process.env, [WORKER_ENV]: String(index) },
			stdio: "inherit",
		});
		return {
			stop: () => child.kill("SIGTERM"),
			exited: new Promise((resolve) =>
				child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))),
			),
		};
	},

	onShutdownRequest(stop) {
		process.on("SIGINT", () => stop("SIGINT"));
		process.on("SIGTERM", () => stop("SIGTERM"));
	},

	exit: (code) => process.exit(code),
};
