import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownReport } from "./markdown.ts";
import { medianRows, type Source } from "./select.ts";
import { latencyChart, throughputChart } from "./svg.ts";
import { concurrencyTable, latencyTable, startupTable, type Table } from "./tables.ts";

export interface Rendered {
	markdown: string;
	/** The two main tables, also printed to the terminal. */
	main: Table[];
	charts: { file: string; title: string; svg: string }[];
}

export function renderReport(sources: readonly Source[]): Rendered {
	const rows = medianRows(sources);
	if (rows.length === 0) throw new Error("the results hold no cells to report");
	const main = [latencyTable(rows, sources, "runtime"), latencyTable(rows, sources, "model")];
	const sweep = concurrencyTable(rows, sources);
	const tables = [...main, ...(sweep ? [sweep] : []), startupTable(sources)];
	const charts = [
		{
			file: "latency.svg",
			title: "Latency by runtime and model",
			svg: latencyChart(rows, sources),
		},
	];
	const throughput = throughputChart(rows, sources);
	if (throughput)
		charts.push({
			file: "throughput.svg",
			title: "Throughput against concurrency",
			svg: throughput,
		});
	return { markdown: markdownReport(sources, tables, charts), main, charts };
}

export function writeReport(dir: string, rendered: Rendered): void {
	writeFileSync(join(dir, "report.md"), rendered.markdown);
	for (const chart of rendered.charts) writeFileSync(join(dir, chart.file), chart.svg);
}
