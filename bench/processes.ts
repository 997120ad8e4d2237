import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Every child the bench starts runs in its own process group (detached), so that stopping it also
 * stops anything it forked, and the bench can sweep them all away when it fails or is interrupted.
 */
const live = new Set<number>();

export function spawnGroup(
	command: string,
	args: readonly string[],
	options: SpawnOptions,
): ChildProcess {
	const child = spawn(command, args, { ...options, detached: true });
	const pid = child.pid;
	if (pid !== undefined) {
		live.add(pid);
		child.once("exit", () => live.delete(pid));
	}
	return child;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pid, signal);
	} catch {
		// Already gone.
	}
}

export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** SIGKILLs every group still running; safe to call from a signal handler. */
export function killAllGroups(): void {
	for (const pid of live) signalGroup(pid, "SIGKILL");
	live.clear();
}

/** Resolves once the child has exited, with its code and signal. */
export function exited(
	child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
	if (child.exitCode !== null || child.signalCode !== null) {
		return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
	}
	return new Promise((resolve) => {
		child.once("exit", (code, signal) => resolve({ code, signal }));
	});
}

/** Runs a command to completion, collecting stdout and stderr. */
export async function runCollect(
	command: string,
	args: readonly string[],
	options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
	const child = spawnGroup(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
	const stdout: Buffer[] = [];
	const stderr: Buffer[] = [];
	child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
	child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
	// "close" rather than "exit": it waits for the pipes to drain too.
	const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
		child.once("close", (code, signal) => resolve({ code, signal })),
	);
	const failed = new Promise<never>((_, reject) => child.once("error", reject));
	let timer: ReturnType<typeof setTimeout> | undefined;
	if (options.timeoutMs !== undefined && child.pid !== undefined) {
		const pid = child.pid;
		timer = setTimeout(() => signalGroup(pid, "SIGKILL"), options.timeoutMs);
	}
	try {
		const result = await Promise.race([closed, failed]);
		return {
			...result,
			stdout: Buffer.concat(stdout).toString("utf8"),
			stderr: Buffer.concat(stderr).toString("utf8"),
		};
	} finally {
		if (timer) clearTimeout(timer);
	}
}

/** The first executable called `name` on PATH, or null. */
export function findOnPath(name: string, path = process.env.PATH ?? ""): string | null {
	for (const dir of path.split(delimiter)) {
		if (!dir) continue;
		const candidate = join(dir, name);
		try {
			accessSync(candidate, constants.X_OK);
			return candidate;
		} catch {
			// Not here.
		}
	}
	return null;
}
