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

export interface RunningServer {
	readonly url: string;
	readonly process: ChildProcess;
	/** Everything the server wrote to stderr so far. */
	stderr(): string;
	/** SIGTERM, then the exit code. */
	stop(): Promise<number | null>;
}

/** Starts the real server on a free port (PORT=0) and resolves once it logs its address. */
export async function startServer(
	runtime: Runtime,
	env: Record<string, string> = {},
	timeoutMs = 20_000,
): Promise<RunningServer> {
	const [command = "", ...args] = serveCommand(runtime);
	const child = spawn(command, args, {
		cwd: PROJECT_ROOT,
		env: { ...process.env, PORT: "0", LOG_LEVEL: "info", ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let log = "";
	child.stdout?.on("data", (chunk: Buffer) => {
		log += chunk.toString();
	});
	const url = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`${runtime} did not start in ${timeoutMs} ms:\n${log}`));
		}, timeoutMs);
		child.stderr?.on("data", (chunk: Buffer) => {
			log += chunk.toString();
			const match = /listening on (http:\/\/\S+)/.exec(log);
			if (match?.[1]) {
				clearTimeout(timer);
				resolve(match[1]);
			}
		});
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`${runtime} exited with ${code} before listening:\n${log}`));
		});
	});
	return {
		url,
		process: child,
		stderr: () => log,
		async stop() {
			if (child.exitCode !== null) return child.exitCode;
			const exited = once(child, "exit");
			child.kill("SIGTERM");
			const [code] = (await exited) as [number | null];
			return code;
		},
	};
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
	env: Record<string, string> = {},
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
