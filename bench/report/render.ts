import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownReport } from "./markdown.ts";
import { medianRows, type Source } from "./select.ts";
import { latencyChart, rssChart, throughputChart } from "./svg.ts";
import { concurrencyTable, latencyTable, soakTable, startupTable, type Table } from "./tables.ts";

export interface Rendered {
	markdown: string;
	/** The main tables (latency by runtime and by model, the sweep, the soak), also printed. */
	main: Table[];
	charts: { file: string; title: string; svg: string }[];
}

export function renderReport(sources: readonly Source[]): Rendered {
	const rows = medianRows(sources);
	const soak = soakTable(sources);
	if (rows.length === 0 && !soak) throw new Error("the results hold no cells to report");
	const main: Table[] = [];
	const charts: Rendered["charts"] = [];
	if (rows.length > 0) {
		main.push(latencyTable(rows, sources, "runtime"), latencyTable(rows, sources, "model"));
		// With several workers values the sweep is what shows their scaling: print it too.
		const sweep = concurrencyTable(rows, sources);
		if (sweep) main.push(sweep);
		charts.push({
			file: "latency.svg",
			title: "Latency by runtime and model",
			svg: latencyChart(rows, sources),
		});
		const throughput = throughputChart(rows, sources);
		if (throughput)
			charts.push({
				file: "throughput.svg",
				title: "Throughput against concurrency",
				svg: throughput,
			});
	}
	if (soak) main.push(soak);
	const rss = rssChart(sources);
	if (rss) charts.push({ file: "rss.svg", title: "Server RSS during the soak", svg: rss });
	const tables = [...main, startupTable(sources)];
	return { markdown: markdownReport(sources, tables, charts), main, charts };
}

export function writeReport(dir: string, rendered: Rendered): void {
	writeFileSync(join(dir, "report.md"), rendered.markdown);
	for (const chart of rendered.charts) writeFileSync(join(dir, chart.file), chart.svg);
}
