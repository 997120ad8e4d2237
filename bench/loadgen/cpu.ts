import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findOnPath, runCollect } from "../processes.ts";
import type { GeneratorCpu } from "./types.ts";

/**
 * Node and Bun cannot read a child's rusage, and its /proc/<pid>/stat is gone (reaped) by the time
 * "exit" fires, so an external generator runs under a bash that waits for it and writes `times`
 * (getrusage(RUSAGE_CHILDREN), 1 ms resolution) to a file: the generator's own utime+stime, not
 * bash's.
 */

/**
 * Records the epoch (bash >= 5's EPOCHREALTIME, µs) around the child so the wall time is its own
 * lifetime, not bash's start-up; the exit status passes through.
 */
const WRAPPER =
	's=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME; { echo "wall $s $e"; times; } > "$BENCH_GEN_CPU_FILE"; exit $rc';

/** "0m1.234s" (or with a locale's decimal comma) -> ms. */
function minutesSeconds(text: string): number | null {
	const match = /^(\d+)m(\d+)[.,](\d+)s$/.exec(text);
	if (!match) return null;
	return Number(match[1]) * 60_000 + Number(`${match[2]}.${match[3]}`) * 1000;
}

/**
 * The wrapper's file: "wall START END" (empty fields without EPOCHREALTIME), then `times`' two
 * lines (the shell's user and system time, then its children's). Null when it is not that.
 */
export function parseCpuFile(text: string): { cpuMs: number; wallMs: number | null } | null {
	const lines = text.trim().split("\n");
	const children = lines.at(-1)?.trim().split(/\s+/) ?? [];
	if (lines.length < 3 || children.length !== 2) return null;
	const [user, system] = children.map(minutesSeconds);
	if (user === null || system === null || user === undefined || system === undefined) return null;
	const [, start, end] = (lines[0] ?? "").trim().split(/\s+/);
	const epoch = (s: string | undefined) => Number((s ?? "").replace(",", "."));
	const wallMs = (epoch(end) - epoch(start)) * 1000;
	return {
		cpuMs: user + system,
		wallMs: start && end && Number.isFinite(wallMs) && wallMs > 0 ? wallMs : null,
	};
}

/**
 * runCollect through the bash wrapper, with the child's CPU (null when bash is missing or its
 * report cannot be read; the run itself still counts).
 */
export async function runMeasured(
	command: string,
	args: readonly string[],
	env: NodeJS.ProcessEnv = process.env,
): Promise<Awaited<ReturnType<typeof runCollect>> & { cpu: GeneratorCpu | null }> {
	const bash = findOnPath("bash", env.PATH ?? process.env.PATH);
	if (!bash) return { ...(await runCollect(command, args, { env })), cpu: null };
	const file = join(tmpdir(), `bench-gen-cpu-${process.pid}-${randomUUID()}`);
	const started = performance.now();
	try {
		const result = await runCollect(bash, ["-c", WRAPPER, "bench-gen", command, ...args], {
			env: { ...env, BENCH_GEN_CPU_FILE: file },
		});
		const outerMs = performance.now() - started;
		let parsed: ReturnType<typeof parseCpuFile> = null;
		try {
			parsed = parseCpuFile(readFileSync(file, "utf8"));
		} catch {
			// No file: bash died before writing it.
		}
		const cpu = parsed && { cpuMs: parsed.cpuMs, wallMs: parsed.wallMs ?? outerMs };
		return { ...result, cpu };
	} finally {
		rmSync(file, { force: true });
	}
}
