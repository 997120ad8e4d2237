import process from "node:process";
import { readRequestsWith } from "../api/body.ts";
import { bodyReads } from "../api/body-reads.ts";
import { run } from "./lifecycle.ts";
import { ListenError, type RuntimeAdapter, type WorkerExit, type WorkerHandle } from "./runtime.ts";

// The little of Deno's global this file uses; tsc runs with Node's and Bun's types, not Deno's.
declare const Deno: {
	version: { deno: string };
	errors: { AddrInUse: new () => Error };
	exit(code: number): never;
	serve(
		options: { port: number; hostname: string; reusePort?: boolean; onListen?: () => void },
		handler: (request: Request) => Response | Promise<Response>,
	): { addr: { hostname: string; port: number }; shutdown(): Promise<void> };
};

/** Once a request is parked, how long the others' responses get to be written before exit. */
const PARKED_GRACE_MS = 100;

/**
 * shutdown() stops accepting and resolves once in-flight requests have finished, but it also
 * fails every request body not yet read in full (see body-reads.ts). So the body reads under way
 * finish first, new ones parked meanwhile. A parked request never finishes, and shutdown() waits
 * for it too: once there is one, the other responses get PARKED_GRACE_MS to be written instead.
 */
async function shutDownAfterBodyReads(server: { shutdown(): Promise<void> }): Promise<void> {
	await bodyReads.close();
	const stopped = server.shutdown();
	const parkedThenGrace = bodyReads
		.untilParked()
		.then(() => new Promise((resolve) => setTimeout(resolve, PARKED_GRACE_MS)));
	await Promise.race([stopped, parkedThenGrace]);
}

/** "/." or "/%2e" anywhere in the URL: a dot segment, or a name that merely starts with a dot. */
const DOT_SEGMENT = /\/(?:\.|%2e)/i;

/**
 * Node and Bun hand the app a WHATWG-parsed URL, dot segments resolved ("/a/../health" is
 * "/health"); Deno.serve passes the path as sent. Parsing it the same way gives one answer on all
 * three runtimes. Only URLs with a dot after a slash pay for it.
 */
const normalised = (request: Request) =>
	// Not new Request(url, request): copying request.signal makes Deno print a deprecation notice.
	new Request(new URL(request.url), {
		method: request.method,
		headers: request.headers,
		body: request.body,
		duplex: "half",
	} as RequestInit);

const WORKER_NAME = "titanic-worker-";
/** What a worker thread posts to the thread that started it. */
type WorkerMessage = { ready?: true; exit?: number };
const isWorker = self.name?.startsWith(WORKER_NAME) ?? false;

/**
 * Deno: Deno.serve. Workers are worker threads sharing the port with SO_REUSEPORT, as
 * `deno serve --parallel` does; they inherit this process's permissions, so none is widened.
 * Deno.exit() in a worker ends only that worker.
 */
const deno: RuntimeAdapter = {
	name: `deno ${Deno.version.deno}`,
	workerIndex: isWorker ? Number(self.name.slice(WORKER_NAME.length)) : null,

	async listen(app, config, { reusePort }) {
		let server: ReturnType<typeof Deno.serve>;
		try {
			server = Deno.serve(
				{ port: config.port, hostname: config.host, reusePort, onListen: () => {} },
				(request) => app.fetch(DOT_SEGMENT.test(request.url) ? normalised(request) : request),
			);
		} catch (error) {
			if (error instanceof Deno.errors.AddrInUse) throw new ListenError("address already in use");
			throw error;
		}
		const { hostname, port } = server.addr;
		return {
			url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
			close: () => shutDownAfterBodyReads(server),
		};
	},

	startWorker(index): WorkerHandle {
		const worker = new Worker(import.meta.url, { type: "module", name: `${WORKER_NAME}${index}` });
		const ready = new Promise<void>((resolve) => {
			worker.addEventListener("message", (event: MessageEvent<WorkerMessage>) => {
				if (event.data?.ready) resolve();
			});
		});
		const exited = new Promise<WorkerExit>((resolve) => {
			worker.addEventListener("message", (event: MessageEvent<WorkerMessage>) => {
				if (typeof event.data?.exit === "number") resolve({ code: event.data.exit, signal: null });
			});
			// An uncaught error ends the thread, whether before or after it was ready.
			worker.addEventListener("error", (event) => {
				event.preventDefault();
				console.error(`titanic-serve: worker ${index}: ${event.message}`);
				resolve({ code: 1, signal: null });
			});
		});
		void exited.then(() => worker.terminate());
		return { stop: () => worker.postMessage("stop"), ready, exited };
	},

	reportReady() {
		// postMessage queues the message at once: the supervisor reads it before the worker's end.
		if (isWorker) self.postMessage({ ready: true } satisfies WorkerMessage);
		return Promise.resolve();
	},

	onShutdownRequest(stop) {
		if (isWorker) {
			self.addEventListener("message", (event) => {
				if (event.data === "stop") stop("stop requested");
			});
		} else {
			process.on("SIGINT", () => stop("SIGINT"));
			process.on("SIGTERM", () => stop("SIGTERM"));
		}
	},

	exit(code) {
		if (isWorker) self.postMessage({ exit: code } satisfies WorkerMessage);
		return Deno.exit(code);
	},
};

// Deno's fatal TextDecoder is its slow path: decode with the replacing one first (api/body.ts).
readRequestsWith({ decode: "loose-first" });
await run(deno, process.env);
