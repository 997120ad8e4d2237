import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

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

/** The fields of /proc/<pid>/stat after the command name (fields[0] is the state), or null. */
function statFields(pid: number): string[] | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name (field 2) may hold spaces and parentheses: count from the last ")".
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	} catch {
		return null;
	}
}

/** Direct children of `pid`: /proc/<pid>/task/<tid>/children when the kernel has it, else a ppid scan. */
export function childPids(pid: number): number[] {
	try {
		const tids = readdirSync(`/proc/${pid}/task`);
		const out: number[] = [];
		let readable = false;
		for (const tid of tids) {
			try {
				const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8");
				readable = true;
				for (const word of text.trim().split(/\s+/)) if (word) out.push(Number(word));
			} catch {
				// No children file (CONFIG_PROC_CHILDREN off) or the thread is gone.
			}
		}
		if (readable) return out;
	} catch {
		return [];
	}
	const out: number[] = [];
	let entries: string[];
	try {
		entries = readdirSync("/proc");
	} catch {
		return [];
	}
	for (const entry of entries) {
		if (!/^\d+$/.test(entry)) continue;
		const fields = statFields(Number(entry));
		// fields[0] is the state, fields[1] the parent pid.
		if (fields && Number(fields[1]) === pid) out.push(Number(entry));
	}
	return out;
}

/** `pid` and every live descendant (zombies excluded), parents before children. */
export function processTree(pid: number): number[] {
	const out: number[] = [];
	const queue = [pid];
	const seen = new Set<number>();
	while (queue.length > 0) {
		const next = queue.shift() as number;
		if (seen.has(next)) continue;
		seen.add(next);
		const fields = statFields(next);
		if (!fields || fields[0] === "Z") continue;
		out.push(next);
		queue.push(...childPids(next));
	}
	return out;
}

function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number | null {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
		return match ? Number(match[1]) : null;
	} catch {
		return null;
	}
}

/** Memory of a whole server: the process and its descendants (Node/Bun workers are children). */
export interface TreeMemory {
	/** VmRSS summed over the tree, KiB. */
	rssKiB: number;
	/** VmHWM summed over the tree, KiB: each process's own peak, so an upper bound of the tree's. */
	hwmKiB: number;
	processes: number;
}

export function treeMemory(pid: number): TreeMemory | null {
	let rss = 0;
	let hwm = 0;
	let processes = 0;
	for (const p of processTree(pid)) {
		const r = statusKiB(p, "VmRSS");
		const h = statusKiB(p, "VmHWM");
		if (r === null || h === null) continue;
		rss += r;
		hwm += h;
		processes++;
	}
	return processes === 0 ? null : { rssKiB: rss, hwmKiB: hwm, processes };
}

/**
 * utime+stime of the tree, plus each process's cutime+cstime: a child that exited and was reaped
 * (a restarted worker) moves its time to its parent's c-fields, so the sum does not drop.
 */
export function treeCpuMs(pid: number): number | null {
	let ticks = 0;
	let any = false;
	for (const p of processTree(pid)) {
		const fields = statFields(p);
		if (!fields) continue;
		const values = [11, 12, 13, 14].map((i) => Number(fields[i]));
		if (!values.every(Number.isFinite)) continue;
		ticks += values.reduce((a, b) => a + b, 0);
		any = true;
	}
	return any ? (ticks * 1000) / ticksPerSecond() : null;
}
