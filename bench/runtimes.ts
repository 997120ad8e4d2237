import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { isPeer, PEER_READY_PATH, PEER_SETUP, type PeerName, peerCommand } from "./peers.ts";
import { type TreeMemory, treeCpuMs, treeMemory } from "./proc-stats.ts";
import { exited, isAlive, runCollect, signalGroup, spawnGroup } from "./processes.ts";

export const RUNTIMES = ["node", "bun", "deno"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** What the bench can start: our service on one of the runtimes, or a peer (peers.ts). */
export type ServerProgram = RuntimeName | PeerName;

export class ServerError extends Error {}

/**
 * Deno's permission flags live in deno.json's "serve" task, the command users run; the bench reads
 * them from there so both stay in step. The runtime binary is spawned directly (not through
 * `deno task`), so the pid the bench measures is the server's own.
 */
export function denoRunFlags(root: string): string[] {
	const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as {
		tasks?: Record<string, string>;
	};
	const task = config.tasks?.serve;
	if (!task) throw new ServerError("deno.json has no tasks.serve to take Deno's flags from");
	const words = task.trim().split(/\s+/);
	const run = words.indexOf("run");
	if (run < 0) throw new ServerError(`deno.json tasks.serve is not a "deno run": ${task}`);
	return words.slice(run + 1).filter((word) => word.startsWith("-"));
}

/**
 * The entry points users run. BENCH_SERVE_DIR swaps the folder holding node.ts, bun.ts and deno.ts,
 * a hook for the bench's own tests (a server that never becomes ready).
 */
export function serverCommand(
	runtime: RuntimeName,
	root: string,
	serveDir = process.env.BENCH_SERVE_DIR ?? "src/serve",
): { command: string; args: string[] } {
	const bin = join(root, "node_modules", ".bin", runtime);
	const entry = join(serveDir, `${runtime}.ts`);
	switch (runtime) {
		case "node":
			return { command: bin, args: [entry] };
		case "bun":
			return { command: bin, args: [entry] };
		case "deno":
			return { command: bin, args: ["run", ...denoRunFlags(root), entry] };
	}
}

export async function runtimeVersion(runtime: RuntimeName, root: string): Promise<string> {
	const bin = join(root, "node_modules", ".bin", runtime);
	const result = await runCollect(bin, ["--version"], { timeoutMs: 15_000 });
	const first = result.stdout.trim().split("\n")[0] ?? "";
	return (
		first
			.replace(/^v/, "")
			.replace(/^deno\s+/, "")
			.split(" ")[0] || "unknown"
	);
}

/** A port nothing listens on right now (the kernel's pick). */
/**
 * Whether something already listens on 127.0.0.1:`port`: a fixed --port that another server holds
 * would have the bench measure that server under the runtime's name.
 */
export function portInUse(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = connect({ port, host: "127.0.0.1" });
		const done = (inUse: boolean) => {
			socket.destroy();
			resolve(inUse);
		};
		socket.once("connect", () => done(true));
		socket.once("error", () => done(false));
	});
}

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

interface StartOptions {
	root: string;
	port: number;
	readyTimeoutMs: number;
	/** taskset core list for the server, when pinning. */
	cpuList?: string;
	env?: NodeJS.ProcessEnv;
	/** WORKERS for the server (default 1); above 1 needs a fixed port, which `port` always is. */
	workers?: number;
}

/** `worker 2: info: ready: ...`: a worker copy finished loading and warming its models. */
const WORKER_READY = /^worker (\d+): info: ready: /;

/** LOG_LEVEL for a server: warn by default; at least info with workers, to see their ready lines. */
export function serverLogLevel(workers: number, env: NodeJS.ProcessEnv = process.env): string {
	const given = env.LOG_LEVEL ?? "warn";
	if (workers <= 1) return given;
	return given === "debug" ? "debug" : "info";
}

export interface StopResult {
	code: number | null;
	signal: string | null;
	/** True when SIGTERM did not end it and SIGKILL had to. */
	killed: boolean;
	stopMs: number;
	/** VmHWM summed over the server's processes (see RunningServer.peakRssKiB). */
	peakRssKiB: number | null;
	cpuMs: number | null;
	/** Processes the server ran as when last sampled (supervisor plus workers on Node/Bun). */
	processes: number | null;
}

/** How often a running server's memory is sampled (children's VmHWM is lost once they exit). */
const SAMPLE_MS = 1000;

export class RunningServer {
	private readonly tail: string[] = [];
	private readonly readyWorkers = new Set<number>();
	private peakHwm: number | null = null;
	private lastProcesses: number | null = null;
	private sampler: ReturnType<typeof setInterval> | undefined;

	readonly runtime: ServerProgram;
	readonly child: ChildProcess;
	readonly pid: number;
	readonly port: number;
	readonly spawnedAt: number;
	readonly workers: number;

	constructor(
		runtime: ServerProgram,
		child: ChildProcess,
		pid: number,
		port: number,
		spawnedAt: number,
		workers = 1,
	) {
		this.runtime = runtime;
		this.child = child;
		this.pid = pid;
		this.port = port;
		this.spawnedAt = spawnedAt;
		this.workers = workers;
		const lines = () => {
			let partial = "";
			return (chunk: Buffer) => {
				const parts = (partial + chunk.toString("utf8")).split("\n");
				partial = parts.pop() ?? "";
				for (const raw of parts) {
					const line = raw.trim();
					if (!line) continue;
					this.tail.push(line);
					const ready = WORKER_READY.exec(line);
					if (ready) this.readyWorkers.add(Number(ready[1]));
				}
				this.tail.splice(0, Math.max(0, this.tail.length - 20));
			};
		};
		child.stdout?.on("data", lines());
		child.stderr?.on("data", lines());
		this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
		this.sampler.unref?.();
	}

	/** Distinct worker numbers that have logged `ready` (stays 0 with WORKERS=1). */
	get workersReady(): number {
		return this.readyWorkers.size;
	}

	/** One reading of the whole server's memory; also folds it into the peak. */
	sample(): TreeMemory | null {
		const memory = treeMemory(this.pid);
		if (memory) {
			this.peakHwm = Math.max(this.peakHwm ?? 0, memory.hwmKiB);
			this.lastProcesses = memory.processes;
		}
		return memory;
	}

	stopSampling(): void {
		clearInterval(this.sampler);
	}

	get baseUrl(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** False once the process has exited or been killed. */
	get running(): boolean {
		return this.child.exitCode === null && this.child.signalCode === null;
	}

	lastOutput(): string {
		return this.tail.at(-1) ?? "(no output)";
	}

	/**
	 * VmHWM summed over the server's processes, the largest such sum seen by the 1 s sampler or now:
	 * Node and Bun workers are child processes of the supervisor, Deno's are threads of one process.
	 */
	peakRssKiB(): number | null {
		this.sample();
		return this.peakHwm;
	}

	/** utime+stime over the server's processes (reaped children included), ms. */
	cpuMs(): number | null {
		return treeCpuMs(this.pid);
	}

	/** SIGTERM, wait, SIGKILL the group as a fallback; readings are taken just before the signal. */
	async stop(graceMs = 10_000): Promise<StopResult> {
		clearInterval(this.sampler);
		const peak = this.peakRssKiB();
		const cpu = this.cpuMs();
		const processes = this.lastProcesses;
		const begin = performance.now();
		const done = exited(this.child);
		try {
			process.kill(this.pid, "SIGTERM");
		} catch {
			// Already gone.
		}
		let killed = false;
		let grace: ReturnType<typeof setTimeout> | undefined;
		const timer = new Promise<"timeout">((resolve) => {
			grace = setTimeout(() => resolve("timeout"), graceMs);
		});
		let result = await Promise.race([done, timer]);
		// A pending grace timer would hold the bench open after its last server stopped.
		clearTimeout(grace);
		if (result === "timeout") {
			killed = true;
			signalGroup(this.pid, "SIGKILL");
			result = await done;
		}
		// Sweep anything the server forked that outlived it.
		signalGroup(this.pid, "SIGKILL");
		return {
			...result,
			killed,
			stopMs: performance.now() - begin,
			peakRssKiB: peak,
			cpuMs: cpu,
			processes,
		};
	}
}

/** The command and readiness path of a program: our entry point's /ready, or a peer's own. */
function programCommand(
	program: ServerProgram,
	root: string,
): { command: string; args: string[]; readyPath: string } {
	if (isPeer(program))
		return { ...peerCommand(program, root), readyPath: PEER_READY_PATH[program] };
	return { ...serverCommand(program, root), readyPath: "/ready" };
}

/**
 * Starts a server and resolves once its ready path answers 200 (our /ready, a peer's /health); on
 * any failure no process is left.
 */
export async function startServer(
	runtime: ServerProgram,
	options: StartOptions,
): Promise<RunningServer> {
	const { command, args, readyPath } = programCommand(runtime, options.root);
	const [cmd, argv] = options.cpuList
		? ["taskset", ["-c", options.cpuList, command, ...args]]
		: [command, args];
	const workers = options.workers ?? 1;
	const env: NodeJS.ProcessEnv = {
		...process.env,
		LOG_LEVEL: serverLogLevel(workers),
		...options.env,
		PORT: String(options.port),
		HOST: "127.0.0.1",
		WORKERS: String(workers),
		// The floor-post cell's route (src/api/bench-routes.ts), which production never mounts.
		BENCH_ROUTES: "1",
	};
	const spawnedAt = performance.now();
	const child = spawnGroup(cmd, argv, {
		cwd: options.root,
		env,
		stdio: ["ignore", "pipe", "pipe"],
	});
	const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
	if (child.pid === undefined) {
		// A peer's interpreter may be missing altogether: say where its setup is.
		const hint = isPeer(runtime) ? ` (see ${PEER_SETUP[runtime]})` : "";
		throw new ServerError(`${runtime}: cannot start ${cmd}: ${(await spawnError).message}${hint}`);
	}
	const server = new RunningServer(runtime, child, child.pid, options.port, spawnedAt, workers);
	try {
		await waitReady(server, readyPath, options.readyTimeoutMs, spawnError);
		return server;
	} catch (error) {
		server.stopSampling();
		signalGroup(server.pid, "SIGKILL");
		await exited(child);
		throw error;
	}
}

async function waitReady(
	server: RunningServer,
	readyPath: string,
	timeoutMs: number,
	spawnError: Promise<Error>,
): Promise<void> {
	const deadline = server.spawnedAt + timeoutMs;
	let exit: { code: number | null; signal: string | null } | null = null;
	let error: Error | null = null;
	void exited(server.child).then((result) => {
		exit = result;
	});
	void spawnError.then((e) => {
		error = e;
	});
	const name = server.runtime;
	for (;;) {
		if (error)
			throw new ServerError(`${name}: cannot start the server: ${(error as Error).message}`);
		if (exit) {
			const { code, signal } = exit;
			throw new ServerError(
				`${name} server exited (${code ?? signal}) before it was ready: ${server.lastOutput()}`,
			);
		}
		if (performance.now() > deadline) {
			const workers =
				server.workers > 1 ? ` (${server.workersReady} of ${server.workers} workers ready)` : "";
			throw new ServerError(`${name} server was not ready within ${timeoutMs} ms${workers}`);
		}
		// With workers, /ready answers from whichever worker the kernel picks: wait for every
		// worker's own ready line first (they log it after loading and warming their models).
		if (server.workers > 1 && server.workersReady < server.workers) {
			await new Promise((resolve) => setTimeout(resolve, 25));
			continue;
		}
		try {
			const response = await fetch(`${server.baseUrl}${readyPath}`, {
				signal: AbortSignal.timeout(1000),
			});
			await response.arrayBuffer();
			// Ready only counts if it came from our child, not something else on the port.
			if (response.status === 200 && isAlive(server.pid) && !exit) return;
		} catch {
			// Not listening yet.
		}
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}
