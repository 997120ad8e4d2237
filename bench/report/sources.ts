import { type MetricsSetting, metricsOf, type Results, workersOf } from "../results.ts";

/** One results.json, labelled by the machine it came from when several are merged. */
export interface Source {
	label: string;
	results: Results;
}

/**
 * Labels sources by host; the same host twice (two runs on one machine) gets a numbered suffix so
 * the cells stay apart.
 */
export function labelSources(results: readonly Results[]): Source[] {
	const seen = new Map<string, number>();
	return results.map((r) => {
		const host = r.environment.host;
		const n = (seen.get(host) ?? 0) + 1;
		seen.set(host, n);
		const total = results.filter((x) => x.environment.host === host).length;
		return { label: total > 1 ? `${host} #${n}` : host, results: r };
	});
}

/** Whether the items hold more than one workers value, so tables and charts must label it. */
export function severalWorkers(items: readonly { workers?: number | undefined }[]): boolean {
	return new Set(items.map(workersOf)).size > 1;
}

/** Whether the items hold more than one METRICS value, so tables and charts must label it. */
export function severalMetrics(
	items: readonly { metrics?: MetricsSetting | null | undefined }[],
): boolean {
	return new Set(items.map((x) => metricsOf({ metrics: x.metrics ?? undefined }))).size > 1;
}

/** The METRICS column's text: "-" for runs from before --metrics. */
export const metricsLabel = (metrics: MetricsSetting | null): string => metrics ?? "-";

/** Runtimes in the order the sources listed them, each once. */
export const runtimeOrder = (sources: readonly Source[]): string[] => [
	...new Set(sources.flatMap((s) => s.results.options.runtimes)),
];

/** Models in the order the sources listed them, each once. */
export const modelOrder = (sources: readonly Source[]): string[] => [
	...new Set(sources.flatMap((s) => s.results.options.models)),
];
