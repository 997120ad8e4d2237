import type { Results } from "../results.ts";
import type { Source } from "./sources.ts";
import { numericColumns, type Table } from "./tables.ts";

const cell = (text: string) => text.replace(/\|/g, "\\|");

export function markdownTable(table: Table): string {
	const numeric = numericColumns(table);
	const lines = [
		`| ${table.headers.map(cell).join(" | ")} |`,
		`| ${numeric.map((n) => (n ? "---:" : "---")).join(" | ")} |`,
		...table.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
	];
	return [`### ${table.title}`, "", ...lines, "", ...table.notes.map((n) => `- ${n}`)].join("\n");
}

function environmentSection(sources: readonly Source[]): string {
	const parts: string[] = ["## Environment", ""];
	for (const { label, results } of sources) {
		const e = results.environment;
		if (sources.length > 1) parts.push(`### ${label}`, "");
		const runtimes = Object.entries(e.runtimes)
			.map(([name, version]) => `${name} ${version}`)
			.join(", ");
		const o = results.options;
		const run = results.soak
			? `- Run: soak of ${results.soak.durationMs / 1000} s per server at concurrency ${results.soak.concurrency} after ${o.warmup} warm-up requests, mark ${results.soak.markMs / 1000} s, body ${o.body}`
			: `- Run: ${o.requests} requests per cell after ${o.warmup} warm-up requests, concurrency ${o.concurrency.join(", ")}, ${o.rounds} round(s), body ${o.body}`;
		parts.push(
			`- Date: ${results.createdAt}`,
			`- Host: ${e.host}`,
			`- CPU: ${e.cpuModel}, ${e.cores} cores; memory ${e.memoryMiB} MiB`,
			`- OS: ${e.os}`,
			`- Runtimes: ${runtimes}`,
			`- onnxruntime-node: ${e.onnxruntime ?? "not installed"}`,
			`- Load generator: ${e.generator.name} ${e.generator.version}${e.generatorNote ? ` (${e.generatorNote})` : ""}`,
			`- Pinned: ${e.pinning.pinned ? "yes" : "no"} (${e.pinning.note})`,
			`- Bench driver: ${e.benchRuntime}, project ${e.projectVersion}`,
			run,
			`- Workers (WORKERS): ${(o.workers ?? ["1"]).join(", ")}`,
			...(o.metrics ? [`- Metrics (METRICS): ${o.metrics.join(", ")}`] : []),
			...(o.stages ? [stagesLine(results)] : []),
			"",
		);
	}
	return parts.join("\n");
}

export function markdownReport(
	sources: readonly Source[],
	tables: readonly Table[],
	charts: readonly { file: string; title: string }[],
): string {
	const title = sources.length > 1 ? "Runtime benchmark comparison" : "Runtime benchmark";
	return [
		`# ${title}`,
		"",
		environmentSection(sources),
		"## Results",
		"",
		...tables.flatMap((t) => [markdownTable(t), ""]),
		...(charts.length > 0 ? ["## Charts", ""] : []),
		...charts.flatMap((c) => [`![${c.title}](${c.file})`, ""]),
		"## Method",
		"",
		"Each runtime serves the same app through its own entry point (src/serve/<runtime>.ts), started fresh per round on a free port; the bench waits for /ready, warms each cell up, then sends the measured requests from a separate load-generator process with keep-alive connections. Latencies are per request, client side; percentiles are computed as oha does (sorted[floor(p·n)], no interpolation); variance is the population variance. The built-in generator sends the warm-up on the connections it then measures on; oha and h2load make the warm-up a separate run, so their first measured request per connection follows a fresh connect (included in oha's time, not in h2load's, which runs from the request's queueing on an open connection to its last byte). Raw per-request timings are in raw/.",
		"",
	].join("\n");
}

/** How a --stages run timed its predictions: with a second, timed server per runtime, or the one. */
const stagesLine = (results: Results): string =>
	results.cells.some((cell) => cell.timed)
		? "- Stages: a second server per runtime timed each prediction (STAGES=1); latencies and own cost are the untimed server's"
		: "- Stages (STAGES=1): our runtimes' servers timed each prediction";
