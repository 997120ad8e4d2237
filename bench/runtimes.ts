import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { cpuTimeMs, peakRssKiB } from "./proc-stats.ts";
import { exited, isAlive, runCollect, signalGroup, spawnGroup } from "./processes.ts";

export const RUNTIMES = ["node", "bun", "deno"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

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

export interface StartOptions {
	root: string;
	port: number;
	readyTimeoutMs: number;
	/** taskset core list for the server, when pinning. */
	cpuList?: string;
	env?: NodeJS.ProcessEnv;
}

export interface StopResult {
	code: number | null;
	signal: string | null;
	/** True when SIGTERM did not end it and SIGKILL had to. */
	killed: boolean;
	stopMs: number;
	peakRssKiB: number | null;
	cpuMs: number | null;
}

export class RunningServer {
	private readonly tail: string[] = [];

	readonly runtime: RuntimeName;
	readonly child: ChildProcess;
	readonly pid: number;
	readonly port: number;
	readonly spawnedAt: number;

	constructor(
		runtime: RuntimeName,
		child: ChildProcess,
		pid: number,
		port: number,
		spawnedAt: number,
	) {
		this.runtime = runtime;
		this.child = child;
		this.pid = pid;
		this.port = port;
		this.spawnedAt = spawnedAt;
		const keep = (chunk: Buffer) => {
			for (const line of chunk.toString("utf8").split("\n")) {
				if (line.trim()) this.tail.push(line.trim());
			}
			this.tail.splice(0, Math.max(0, this.tail.length - 20));
		};
		child.stdout?.on("data", keep);
		child.stderr?.on("data", keep);
	}

	get baseUrl(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	lastOutput(): string {
		return this.tail.at(-1) ?? "(no output)";
	}

	peakRssKiB(): number | null {
		return peakRssKiB(this.pid);
	}

	cpuMs(): number | null {
		return cpuTimeMs(this.pid);
	}

	/** SIGTERM, wait, SIGKILL the group as a fallback; readings are taken just before the signal. */
	async stop(graceMs = 10_000): Promise<StopResult> {
		const peak = this.peakRssKiB();
		const cpu = this.cpuMs();
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
		return { ...result, killed, stopMs: performance.now() - begin, peakRssKiB: peak, cpuMs: cpu };
	}
}

/** Starts a server and resolves once /ready answers 200; on any failure no process is left. */
export async function startServer(
	runtime: RuntimeName,
	options: StartOptions,
): Promise<RunningServer> {
	const { command, args } = serverCommand(runtime, options.root);
	const [cmd, argv] = options.cpuList
		? ["taskset", ["-c", options.cpuList, command, ...args]]
		: [command, args];
	const env: NodeJS.ProcessEnv = {
		...process.env,
		LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
		...options.env,
		PORT: String(options.port),
		HOST: "127.0.0.1",
	};
	const spawnedAt = performance.now();
	const child = spawnGroup(cmd, argv, {
		cwd: options.root,
		env,
		stdio: ["ignore", "pipe", "pipe"],
	});
	const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
	if (child.pid === undefined) {
		throw new ServerError(`${runtime}: cannot start ${cmd}: ${(await spawnError).message}`);
	}
	const server = new RunningServer(runtime, child, child.pid, options.port, spawnedAt);
	try {
		await waitReady(server, options.readyTimeoutMs, spawnError);
		return server;
	} catch (error) {
		signalGroup(server.pid, "SIGKILL");
		await exited(child);
		throw error;
	}
}

async function waitReady(
	server: RunningServer,
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
			throw new ServerError(`${name} server was not ready within ${timeoutMs} ms`);
		}
		try {
			const response = await fetch(`${server.baseUrl}/ready`, {
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
