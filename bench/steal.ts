import { readFileSync } from "node:fs";

/**
 * Host CPU steal from /proc/stat: the ticks a hypervisor ran something else while this VM's vCPU
 * wanted to run. On a shared VM it moves the bench's figures 2x from run to run, so each cell
 * records how much of it fell on the server's cores while the cell was measured.
 */

/** Ticks of a set of CPUs since boot: all of them, and the stolen ones among them. */
export interface CpuTicks {
	total: number;
	steal: number;
}

/** Reads the ticks of a taskset core list ("0", "0-1", "0,2"), or of every CPU when undefined. */
export type HostCpuReader = (cpuList: string | undefined) => CpuTicks | null;

/**
 * The CPU numbers of a taskset-style list ("0", "0-1", "0,2", "0-1,4"); null when it is none,
 * so an unexpected form records nothing rather than the wrong cores.
 */
export function cpuNumbers(cpuList: string): number[] | null {
	const cpus = new Set<number>();
	for (const part of cpuList.split(",")) {
		const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
		if (!match) return null;
		const first = Number(match[1]);
		const last = match[2] === undefined ? first : Number(match[2]);
		if (last < first) return null;
		for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
	}
	return [...cpus];
}

/**
 * The first eight values of a /proc/stat cpu line (user nice system idle iowait irq softirq
 * steal): guest and guest_nice come after them and are already counted in user and nice, so
 * adding them would count that time twice.
 */
function lineTicks(line: string): CpuTicks | null {
	const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
	if (values.length < 8 || !values.every(Number.isFinite)) return null;
	return { total: values.reduce((sum, v) => sum + v, 0), steal: values[7] as number };
}

/**
 * The ticks of `cpuList`'s CPUs summed (lines "cpu0", "cpu1", ...), or of the aggregate "cpu"
 * line when it is undefined (the server was not pinned, so any CPU may have run it). Null when a
 * CPU asked for has no line (offline, or a list naming CPUs the machine lacks).
 */
export function parseCpuTicks(procStat: string, cpuList?: string): CpuTicks | null {
	const lines = new Map<string, string>();
	for (const line of procStat.split("\n")) {
		const name = /^(cpu\d*)\s/.exec(line)?.[1];
		if (name !== undefined) lines.set(name, line);
	}
	const cpus = cpuList === undefined ? null : cpuNumbers(cpuList);
	if (cpuList !== undefined && cpus === null) return null;
	const names = cpus === null ? ["cpu"] : cpus.map((cpu) => `cpu${cpu}`);
	const sum: CpuTicks = { total: 0, steal: 0 };
	for (const name of names) {
		const line = lines.get(name);
		const ticks = line === undefined ? null : lineTicks(line);
		if (ticks === null) return null;
		sum.total += ticks.total;
		sum.steal += ticks.steal;
	}
	return sum;
}

/**
 * Steal as a percentage of all ticks between two snapshots. Null without both, when no tick
 * passed (a run shorter than one tick) or a counter went backwards (a CPU went offline and back,
 * a wrap): no figure rather than a wrong one.
 */
export function stealPct(before: CpuTicks | null, after: CpuTicks | null): number | null {
	if (before === null || after === null) return null;
	const total = after.total - before.total;
	const steal = after.steal - before.steal;
	if (total <= 0 || steal < 0 || steal > total) return null;
	return (steal / total) * 100;
}

/** /proc/stat's ticks for `cpuList`; null where it is missing or unreadable (macOS). */
export const readCpuTicks: HostCpuReader = (cpuList) => {
	let text: string;
	try {
		text = readFileSync("/proc/stat", "utf8");
	} catch {
		return null;
	}
	return parseCpuTicks(text, cpuList);
};

/**
 * The CPUs whose steal a load generator reads over its measured requests (LoadRequest.steal): a
 * taskset list (the server's pinned cores), or every CPU when `cpuList` is undefined.
 */
export interface StealWindow {
	cpuList?: string;
}

/**
 * Opens a steal window: takes the first snapshot now and returns what takes the second and gives
 * the steal between the two. Without a window it reads nothing and gives undefined, so a result
 * carries a figure only when one was asked for.
 */
export function openSteal(
	window: StealWindow | undefined,
	read: HostCpuReader = readCpuTicks,
): () => number | null | undefined {
	if (window === undefined) return () => undefined;
	const before = read(window.cpuList);
	return () => stealPct(before, read(window.cpuList));
}
