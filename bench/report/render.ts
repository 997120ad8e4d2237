import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { derive } from "./derive.ts";
import { markdownReport } from "./markdown.ts";
import { loadCurves, percentileChart } from "./percentiles.ts";
import type { Source } from "./sources.ts";
import { latencyChart, rssChart, throughputChart } from "./svg.ts";
import {
	concurrencyTable,
	latencyTable,
	metricsCostTable,
	soakTable,
	stagesTable,
	startupTable,
	type Table,
} from "./tables.ts";

interface Rendered {
	markdown: string;
	/** Every table of the report, in its order; the CLIs print them all. */
	tables: Table[];
	charts: { file: string; title: string; svg: string }[];
}

export function renderReport(sources: readonly Source[]): Rendered {
	const { rows, stages, servers, metricsCost, metricsSummary } = derive(sources);
	const soak = soakTable(sources);
	if (rows.length === 0 && !soak) throw new Error("the results hold no cells to report");
	const tables: Table[] = [];
	const charts: Rendered["charts"] = [];
	if (rows.length > 0) {
		tables.push(latencyTable(rows, sources, "runtime"), latencyTable(rows, sources, "model"));
		const breakdown = stagesTable(stages, sources);
		if (breakdown) tables.push(breakdown);
		const sweep = concurrencyTable(rows, sources);
		if (sweep) tables.push(sweep);
		const cost = metricsCostTable(metricsCost, metricsSummary, sources);
		if (cost) tables.push(cost);
		charts.push({
			file: "latency.svg",
			title: "Latency by runtime and model",
			svg: latencyChart(rows, sources),
		});
		// Only from folders whose raw/ CSVs are there: results.json alone holds a few percentiles.
		const percentiles = percentileChart(loadCurves(sources), sources, rows);
		if (percentiles)
			charts.push({ file: "percentiles.svg", title: "Latency by percentile", svg: percentiles });
		const throughput = throughputChart(rows, sources);
		if (throughput)
			charts.push({
				file: "throughput.svg",
				title: "Throughput against concurrency",
				svg: throughput,
			});
	}
	if (soak) tables.push(soak);
	const rss = rssChart(sources);
	if (rss) charts.push({ file: "rss.svg", title: "Server RSS during the soak", svg: rss });
	tables.push(startupTable(servers, sources));
	return { markdown: markdownReport(sources, tables, charts), tables, charts };
}

export function writeReport(dir: string, rendered: Rendered): void {
	writeFileSync(join(dir, "report.md"), rendered.markdown);
	for (const chart of rendered.charts) writeFileSync(join(dir, chart.file), chart.svg);
}
