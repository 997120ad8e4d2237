import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Linux /proc readings of a live process; null where /proc is missing (macOS) or the pid is gone. */

let clockTicks: number | undefined;

function ticksPerSecond(): number {
	if (clockTicks === undefined) {
		try {
			clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
		} catch {
			clockTicks = 100;
		}
	}
	return clockTicks;
}

/** Peak resident set size (VmHWM), KiB. */
export function peakRssKiB(pid: number): number | null {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
		return match ? Number(match[1]) : null;
	} catch {
		return null;
	}
}

/** User plus system CPU time, ms. */
export function cpuTimeMs(pid: number): number | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name (field 2) may hold spaces and parentheses: count from the last ")".
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const utime = Number(fields[11]);
		const stime = Number(fields[12]);
		if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
		return ((utime + stime) * 1000) / ticksPerSecond();
	} catch {
		return null;
	}
}
