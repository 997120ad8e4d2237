import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseOptions, UsageError } from "../../bench/options.ts";

export const ROOT = resolve(import.meta.dir, "..", "..");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
export const FIXTURES = join(import.meta.dir, "fixtures");

/** oha's output fixtures live beside the project (../shared), in CI as here. */
export const OHA_FIXTURES = resolve(ROOT, "..", "shared", "fixtures", "oha");
export const hasOhaFixtures = existsSync(join(OHA_FIXTURES, "synthetic-output.csv"));
if (!hasOhaFixtures) {
	console.warn(`oha fixtures not found at ${OHA_FIXTURES}: the fixture tests are skipped`);
}

export const hasServer =
	existsSync(join(ROOT, "models", "manifest.json")) &&
	existsSync(join(ROOT, "src", "serve", "node.ts"));

/** The one line the bench prints for `argv`; throws when the options are accepted. */
export function usageError(argv: string[]): string {
	try {
		parseOptions(argv);
	} catch (error) {
		if (error instanceof UsageError) return error.message;
		throw error;
	}
	throw new Error(`accepted: ${argv.join(" ")}`);
}

export function tempDir(prefix: string): string {
	return mkdtempSync(join(tmpdir(), `bench-test-${prefix}-`));
}

export interface CliResult {
	code: number | null;
	signal: string | null;
	stdout: string;
	stderr: string;
}

/** Runs one of the bench's CLIs the way `bun run bench` does. */
export function runCli(
	script: "bench/cli.ts" | "bench/report.ts",
	args: readonly string[],
	options: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {},
): Promise<CliResult> {
	return new Promise((resolvePromise, reject) => {
		const child = spawn(BUN, [script, ...args], {
			cwd: ROOT,
			env: { ...process.env, ...options.env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (chunk: Buffer) => {
			stdout += chunk.toString();
		});
		child.stderr.on("data", (chunk: Buffer) => {
			stderr += chunk.toString();
		});
		child.once("error", reject);
		if (child.pid !== undefined) options.onSpawn?.(child.pid);
		child.once("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
	});
}

/** A zombie counts as dead: it is only waiting for a parent (here possibly init) to reap it. */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
	} catch {
		return false;
	}
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
	} catch {
		return true;
	}
}
