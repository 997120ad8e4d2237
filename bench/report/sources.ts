import { peerFolder } from "../peers.ts";
import { type MetricsSetting, metricsOf, type Results, workersOf } from "../results.ts";
import { RUNTIMES } from "../runtimes.ts";

/** One results.json, labelled by the machine it came from when several are merged. */
export interface Source {
	label: string;
	results: Results;
	/** The folder results.json was read from, whose raw/ CSVs the percentile chart reads. */
	dir?: string;
}

/**
 * Labels sources by host; the same host twice (two runs on one machine) gets a numbered suffix so
 * the cells stay apart.
 */
export function labelSources(results: readonly Results[], dirs: readonly string[] = []): Source[] {
	const seen = new Map<string, number>();
	return results.map((r, i) => {
		const host = r.environment.host;
		const n = (seen.get(host) ?? 0) + 1;
		seen.set(host, n);
		const total = results.filter((x) => x.environment.host === host).length;
		const label = total > 1 ? `${host} #${n}` : host;
		const dir = dirs[i];
		return dir === undefined ? { label, results: r } : { label, results: r, dir };
	});
}

/** Whether the items hold more than one workers value, so tables and charts must label it. */
export function severalWorkers(items: readonly { workers?: number | undefined }[]): boolean {
	return new Set(items.map(workersOf)).size > 1;
}

/** Whether the items hold more than one METRICS value, so tables and charts must label it. */
export function severalMetrics(
	items: readonly { runtime?: string; metrics?: MetricsSetting | null | undefined }[],
): boolean {
	// Peers and targets have no METRICS setting (null) beside our runtimes' "on": not a variant.
	const ours = items.filter((x) => x.runtime === undefined || isRuntime(x.runtime));
	return new Set(ours.map((x) => metricsOf({ metrics: x.metrics ?? undefined }))).size > 1;
}

const isRuntime = (name: string): boolean => (RUNTIMES as readonly string[]).includes(name);

/** The METRICS column's text: "-" for runs from before --metrics. */
export const metricsLabel = (metrics: MetricsSetting | null): string => metrics ?? "-";

/** Runtimes in the order the sources listed them, each once. */
export const runtimeOrder = (sources: readonly Source[]): string[] => [
	...new Set([
		...sources.flatMap((s) => s.results.options.runtimes),
		// Peers, then targets, after the runtimes they are compared with.
		...sources.flatMap((s) => s.results.options.peers ?? []),
		...sources.flatMap((s) => (s.results.options.targets ?? []).map((t) => t.name)),
	]),
];

/**
 * Models in the order the sources listed them, each once, with the cells' models no option lists
 * (a peer's own "mlp", a target's URL path; in the order measured) before the first floor cell,
 * so every runtime's rows read models first, floors last.
 */
export function modelOrder(sources: readonly Source[]): string[] {
	const listed = [...new Set(sources.flatMap((s) => s.results.options.models))];
	const extra = [...new Set(sources.flatMap((s) => s.results.cells.map((c) => c.model)))].filter(
		(model) => !listed.includes(model),
	);
	const floor = listed.findIndex((model) => model.startsWith("floor"));
	const at = floor < 0 ? listed.length : floor;
	return [...listed.slice(0, at), ...extra, ...listed.slice(at)];
}

/**
 * One sentence per peer and target of the sources: what it is, which cells it was measured on
 * and which asked-for models it was not (results.skipped).
 */
export function outsideNotes(sources: readonly Source[]): string[] {
	const notes = new Map<string, string>();
	for (const { results } of sources) {
		const measured = (name: string) => [
			...new Set(results.cells.filter((c) => c.runtime === name).map((c) => c.model)),
		];
		for (const peer of results.options.peers ?? []) {
			const skipped = results.skipped?.find((s) => s.runtime === peer)?.models ?? [];
			const cells = measured(peer);
			const off = skipped.length > 0 ? `; not on ${skipped.join(", ")} (it has no such cell)` : "";
			notes.set(
				peer,
				cells.length > 0
					? `${peer} is a reference server (${peerFolder(peer)}/, whose README says what its cells are), started and stopped like a runtime: measured on ${cells.join(", ")}${off}.`
					: `${peer}, a reference server (${peerFolder(peer)}/), was not started: it has none of the cells asked for (${skipped.join(", ")}).`,
			);
		}
		for (const target of results.options.targets ?? []) {
			notes.set(
				target.name,
				`${target.name} is a running server the bench neither started nor stopped, POSTed the body at ${target.url} (its model column is that path); it has no process stats.`,
			);
		}
	}
	return [...notes.values()];
}
