import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { RUNTIMES, type RuntimeName, serverCommand } from "../../bench/runtimes.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export { RUNTIMES };
export type Runtime = RuntimeName;

/** The argv each runtime's entry point is started with: the bench's, so the two cannot drift. */
export function serveCommand(runtime: Runtime): string[] {
	const { command, args } = serverCommand(runtime, PROJECT_ROOT, "src/serve");
	return [command, ...args];
}

/** Environment overrides for a server; `undefined` removes a variable the test runner has set. */
export type ServerEnv = Record<string, string | undefined>;

/** A spawned server process whose output is being collected. */
export interface LaunchedServer {
	readonly process: ChildProcess;
	/** Everything the server wrote to stderr (and stdout) so far. */
	stderr(): string;
	/** SIGTERM, then the exit code; SIGKILL (and null) if it has not exited after `graceMs`. */
	stop(graceMs?: number): Promise<number | null>;
}

export interface RunningServer extends LaunchedServer {
	readonly url: string;
}

/** Spawns `argv` in the project with PORT=0 and LOG_LEVEL=info unless `env` says otherwise. */
export function launch(argv: string[], env: ServerEnv = {}): LaunchedServer {
	const [command = "", ...args] = argv;
	const child = spawn(command, args, {
		cwd: PROJECT_ROOT,
		env: { ...process.env, PORT: "0", LOG_LEVEL: "info", ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let log = "";
	const collect = (chunk: Buffer) => {
		log += chunk.toString();
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	return {
		process: child,
		stderr: () => log,
		async stop(graceMs = 30_000) {
			if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
			const exited = once(child, "exit");
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
			const [code] = (await exited) as [number | null];
			clearTimeout(timer);
			return code;
		},
	};
}

/** Resolves with the URL the server's output names ("listening on ..."); SIGKILLs it on timeout. */
export function untilListening(
	server: LaunchedServer,
	label: string,
	timeoutMs: number,
): Promise<string> {
	const child = server.process;
	return new Promise<string>((resolve, reject) => {
		const check = () => {
			const match = /listening on (http:\/\/\S+)/.exec(server.stderr());
			if (!match?.[1]) return;
			done();
			resolve(match[1]);
		};
		const exited = (code: number | null) => {
			done();
			reject(new Error(`${label} exited with ${code} before listening:\n${server.stderr()}`));
		};
		const failed = (error: Error) => {
			done();
			reject(new Error(`${label} could not be started: ${error.message}`));
		};
		const timer = setTimeout(() => {
			done();
			child.kill("SIGKILL");
			reject(new Error(`${label} did not start in ${timeoutMs} ms:\n${server.stderr()}`));
		}, timeoutMs);
		const done = () => {
			clearTimeout(timer);
			child.stderr?.off("data", check);
			child.stdout?.off("data", check);
			child.off("exit", exited);
			child.off("error", failed);
		};
		child.stderr?.on("data", check);
		child.stdout?.on("data", check);
		child.once("exit", exited);
		child.once("error", failed);
		check();
	});
}

/** Starts the real server on a free port (PORT=0) and resolves once it logs its address. */
export async function startServer(
	runtime: Runtime,
	env: ServerEnv = {},
	timeoutMs = 20_000,
): Promise<RunningServer> {
	const server = launch(serveCommand(runtime), env);
	const url = await untilListening(server, runtime, timeoutMs);
	return { ...server, url };
}

/** Polls /ready until it answers 200. */
export async function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const response = await fetch(`${url}/ready`).catch(() => null);
		if (response?.status === 200) return;
		await Bun.sleep(50);
	}
	throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

/** Runs a command to completion, capturing its output. */
export async function runToExit(
	argv: string[],
	env: ServerEnv = {},
	timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const [command = "", ...args] = argv;
	const child = spawn(command, args, {
		cwd: PROJECT_ROOT,
		env: { ...process.env, ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stdout = "";
	let stderr = "";
	child.stdout?.on("data", (c: Buffer) => {
		stdout += c.toString();
	});
	child.stderr?.on("data", (c: Buffer) => {
		stderr += c.toString();
	});
	const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
	const [code] = (await once(child, "exit")) as [number | null];
	clearTimeout(timer);
	return { code, stdout, stderr };
}

/** Starts the real server on every runtime at once and waits until each is ready. */
export async function startAllRuntimes(): Promise<Map<Runtime, RunningServer>> {
	const started = await Promise.all(RUNTIMES.map((runtime) => startServer(runtime)));
	await Promise.all(started.map((s) => waitReady(s.url)));
	return new Map(RUNTIMES.map((runtime, i) => [runtime, started[i] as RunningServer]));
}
