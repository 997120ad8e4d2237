import { FLOOR } from "../results.ts";
import type { Row } from "./derive.ts";
import {
	metricsLabel,
	modelOrder,
	runtimeOrder,
	type Source,
	severalMetrics,
	severalWorkers,
} from "./sources.ts";

/** Standalone SVG charts: no scripts, no external fonts or styles, so any viewer renders them. */

const COLORS = [
	"#1f77b4",
	"#ff7f0e",
	"#2ca02c",
	"#d62728",
	"#9467bd",
	"#8c564b",
	"#e377c2",
	"#7f7f7f",
];

const escapeXml = (text: string): string =>
	text.replace(
		/[<>&"']/g,
		(c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
	);

const num = (n: number) => (Math.round(n * 100) / 100).toString();

function niceMax(value: number): number {
	if (!(value > 0)) return 1;
	const magnitude = 10 ** Math.floor(Math.log10(value));
	for (const step of [1, 2, 2.5, 5, 10]) {
		if (step * magnitude >= value) return step * magnitude;
	}
	return 10 * magnitude;
}

function svgDocument(width: number, height: number, title: string, body: string[]): string {
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
		`<title>${escapeXml(title)}</title>`,
		`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
		`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
		...body,
		"</svg>",
		"",
	].join("\n");
}

function yAxis(
	left: number,
	top: number,
	plotH: number,
	plotW: number,
	max: number,
	label: string,
): string[] {
	const out: string[] = [];
	for (let i = 0; i <= 5; i++) {
		const value = (max * i) / 5;
		const y = top + plotH - (plotH * i) / 5;
		out.push(
			`<line x1="${left}" y1="${num(y)}" x2="${left + plotW}" y2="${num(y)}" stroke="#e0e0e0"/>`,
			`<text x="${left - 6}" y="${num(y + 4)}" text-anchor="end">${escapeXml(fmtTick(value))}</text>`,
		);
	}
	out.push(
		`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
		`<text transform="translate(${left - 62} ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
	);
	return out;
}

function fmtTick(value: number): string {
	if (value === 0) return "0";
	if (value >= 100) return value.toFixed(0);
	if (value >= 1) return value.toFixed(1);
	return value.toPrecision(2);
}

function legend(
	x: number,
	y: number,
	entries: { label: string; color: string; dash?: string }[],
): string[] {
	return entries.flatMap((entry, i) => {
		const ly = y + i * 18;
		return [
			`<line x1="${x}" y1="${ly}" x2="${x + 24}" y2="${ly}" stroke="${entry.color}" stroke-width="${entry.dash === undefined ? 10 : 2.5}"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""}/>`,
			`<text x="${x + 30}" y="${ly + 4}">${escapeXml(entry.label)}</text>`,
		];
	});
}

/** A row's series: machine, runtime, workers and metrics. */
const seriesKey = (r: Row) => JSON.stringify([r.machine, r.runtime, r.workers, r.metrics]);

/**
 * One series per machine, runtime, workers and metrics value ("node x2" when several workers were
 * run, "node metrics=off" when both METRICS values were).
 */
function seriesOf(
	rows: readonly Row[],
	sources: readonly Source[],
): { key: string; label: string }[] {
	const merged = sources.length > 1;
	const labelWorkers = severalWorkers(rows);
	const runtimes = runtimeOrder(sources);
	const labelMetrics = severalMetrics(rows);
	const workerValues = [...new Set(rows.map((r) => r.workers))].sort((a, b) => a - b);
	const metricsValues = [...new Set(rows.map((r) => r.metrics))];
	const out: { key: string; label: string }[] = [];
	for (const source of sources) {
		for (const runtime of runtimes) {
			for (const workers of workerValues) {
				for (const metrics of metricsValues) {
					const key = JSON.stringify([source.label, runtime, workers, metrics]);
					if (!rows.some((r) => seriesKey(r) === key)) continue;
					const name = `${labelWorkers ? `${runtime} x${workers}` : runtime}${labelMetrics ? ` metrics=${metricsLabel(metrics)}` : ""}`;
					out.push({ key, label: merged ? `${name} (${source.label})` : name });
				}
			}
		}
	}
	return out;
}

/** Bars at p50 with a whisker up to p99, grouped by model, one colour per runtime (and machine). */
export function latencyChart(rows: readonly Row[], sources: readonly Source[]): string {
	const lowest = Math.min(...rows.map((r) => r.concurrency));
	const selected = rows.filter((r) => r.concurrency === lowest);
	const models = modelOrder(sources).filter((m) => selected.some((r) => r.model === m));
	const series = seriesOf(selected, sources);
	const barW = 18;
	const groupW = Math.max(80, series.length * barW + 30);
	const left = 70;
	const top = 40;
	const plotH = 300;
	const plotW = Math.max(300, models.length * groupW);
	const legendW = 190;
	const width = left + plotW + legendW;
	const height = top + plotH + 60;
	const max = niceMax(Math.max(...selected.map((r) => r.p99Ms ?? 0)));
	const y = (ms: number) => top + plotH - (plotH * ms) / max;
	const body = yAxis(left, top, plotH, plotW, max, "latency (ms)");
	models.forEach((model, m) => {
		const gx = left + m * groupW + (groupW - series.length * barW) / 2;
		series.forEach((s, i) => {
			const row = selected.find((r) => r.model === model && seriesKey(r) === s.key);
			const p50 = row?.p50Ms;
			const p99 = row?.p99Ms;
			if (!row || p50 === null || p50 === undefined || p99 === null || p99 === undefined) return;
			const x = gx + i * barW;
			const color = COLORS[i % COLORS.length];
			const cx = x + (barW - 4) / 2;
			body.push(
				`<rect x="${num(x)}" y="${num(y(p50))}" width="${barW - 4}" height="${num(top + plotH - y(p50))}" fill="${color}"><title>${escapeXml(`${s.label} ${model}: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`)}</title></rect>`,
				`<line x1="${num(cx)}" y1="${num(y(p50))}" x2="${num(cx)}" y2="${num(y(p99))}" stroke="#222" stroke-width="1.5"/>`,
				`<line x1="${num(cx - 4)}" y1="${num(y(p99))}" x2="${num(cx + 4)}" y2="${num(y(p99))}" stroke="#222" stroke-width="1.5"/>`,
			);
		});
		body.push(
			`<text x="${num(left + m * groupW + groupW / 2)}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(model === FLOOR ? "floor (/health)" : model)}</text>`,
		);
	});
	body.push(
		`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
		`<text x="${left + plotW / 2}" y="${top + plotH + 42}" text-anchor="middle">bar: p50, whisker: p99 (concurrency ${lowest})</text>`,
		...legend(
			left + plotW + 20,
			top + 10,
			series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length] as string })),
		),
	);
	return svgDocument(width, height, "Latency by runtime and model", body);
}

/**
 * req/s against concurrency in small multiples: one panel per model on a shared scale, one line
 * per runtime (and workers value, machine) in the same colours as the latency chart. One panel
 * with every model's lines was unreadable past a dozen series.
 */
export function throughputChart(rows: readonly Row[], sources: readonly Source[]): string | null {
	const levels = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
	if (levels.length < 2) return null;
	const series = seriesOf(rows, sources);
	const models = modelOrder(sources).filter((model) => rows.some((r) => r.model === model));
	const columns = Math.min(3, models.length);
	const panelW = Math.max(220, levels.length * 70);
	const panelH = 180;
	const gapX = 90;
	const gapY = 70;
	const left = 80;
	const top = 50;
	const legendW = 200;
	const width = left + columns * panelW + (columns - 1) * gapX + legendW;
	const panelRows = Math.ceil(models.length / columns);
	const height = Math.max(top + panelRows * (panelH + gapY), top + 20 + series.length * 18);
	const max = niceMax(Math.max(...rows.map((r) => r.rps)));
	const body: string[] = [];
	models.forEach((model, m) => {
		const px = left + (m % columns) * (panelW + gapX);
		const py = top + Math.floor(m / columns) * (panelH + gapY);
		// Concurrency levels are usually geometric (1, 16, 64): space them evenly, not linearly.
		const x = (level: number) =>
			px + 20 + ((panelW - 40) * levels.indexOf(level)) / (levels.length - 1);
		const y = (rps: number) => py + panelH - (panelH * rps) / max;
		body.push(
			`<text x="${num(px + panelW / 2)}" y="${py - 8}" text-anchor="middle" font-weight="bold">${escapeXml(model === FLOOR ? `${FLOOR} (/health)` : model)}</text>`,
			...yAxis(px, py, panelH, panelW, max, "req/s"),
			`<line x1="${px}" y1="${py + panelH}" x2="${px + panelW}" y2="${py + panelH}" stroke="#333"/>`,
			...levels.map(
				(level) =>
					`<text x="${num(x(level))}" y="${py + panelH + 16}" text-anchor="middle">${level}</text>`,
			),
			`<text x="${num(px + panelW / 2)}" y="${py + panelH + 34}" text-anchor="middle">concurrency</text>`,
		);
		series.forEach((s, i) => {
			const points = rows
				.filter((r) => r.model === model && seriesKey(r) === s.key)
				.sort((a, b) => a.concurrency - b.concurrency)
				.map((r) => [x(r.concurrency), y(r.rps)] as const);
			if (points.length === 0) return;
			const color = COLORS[i % COLORS.length] as string;
			body.push(
				`<polyline points="${points.map(([a, b]) => `${num(a)},${num(b)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`,
				...points.map(([a, b]) => `<circle cx="${num(a)}" cy="${num(b)}" r="3" fill="${color}"/>`),
			);
		});
	});
	const legendEntries = series.map((s, i) => ({
		label: s.label,
		color: COLORS[i % COLORS.length] as string,
		dash: "",
	}));
	body.push(
		...legend(left + columns * panelW + (columns - 1) * gapX + 30, top + 10, legendEntries),
	);
	return svgDocument(width, height, "Throughput against concurrency", body);
}

/** Soak: server RSS (MiB) against seconds of load, one line per runtime (and workers, machine). */
export function rssChart(sources: readonly Source[]): string | null {
	const runs = sources.flatMap((source) =>
		(source.results.soak?.runs ?? []).map((run) => ({ source, run })),
	);
	if (runs.length === 0 || runs.every(({ run }) => run.rss.length === 0)) return null;
	const merged = sources.length > 1;
	const labelWorkers = severalWorkers(runs.map(({ run }) => run));
	const mark = sources.find((s) => s.results.soak)?.results.soak?.markMs ?? 10_000;
	const left = 80;
	const top = 40;
	const plotH = 300;
	const plotW = 520;
	const legendW = 200;
	const width = left + plotW + legendW;
	const height = top + plotH + 60;
	const maxT = Math.max(...runs.flatMap(({ run }) => run.rss.map((p) => p.tMs)), mark) / 1000;
	const maxX = niceMax(maxT);
	const maxY = niceMax(Math.max(...runs.flatMap(({ run }) => run.rss.map((p) => p.kib / 1024))));
	const x = (s: number) => left + (plotW * s) / maxX;
	const y = (mibValue: number) => top + plotH - (plotH * mibValue) / maxY;
	const body = yAxis(left, top, plotH, plotW, maxY, "server RSS (MiB)");
	for (let i = 0; i <= 5; i++) {
		const t = (maxX * i) / 5;
		body.push(
			`<text x="${num(x(t))}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(fmtTick(t))}</text>`,
		);
	}
	body.push(
		`<line x1="${num(x(mark / 1000))}" y1="${top}" x2="${num(x(mark / 1000))}" y2="${top + plotH}" stroke="#999" stroke-dasharray="4 3"/>`,
		`<text x="${num(x(mark / 1000) + 4)}" y="${top + 12}" fill="#666">mark</text>`,
	);
	const entries: { label: string; color: string; dash: string }[] = [];
	runs.forEach(({ source, run }, i) => {
		const color = COLORS[i % COLORS.length] as string;
		const name = labelWorkers ? `${run.runtime} x${run.workers}` : run.runtime;
		const label = `${merged ? `${name} (${source.label})` : name} ${run.pass ? "PASS" : "FAIL"}`;
		const points = run.rss.map((p) => `${num(x(p.tMs / 1000))},${num(y(p.kib / 1024))}`);
		body.push(
			`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"><title>${escapeXml(label)}</title></polyline>`,
		);
		entries.push({ label, color, dash: "" });
	});
	body.push(
		`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
		`<text x="${left + plotW / 2}" y="${top + plotH + 42}" text-anchor="middle">seconds of load (VmRSS summed over the server's processes, sampled every second)</text>`,
		...legend(left + plotW + 20, top + 10, entries),
	);
	return svgDocument(width, height, "Server RSS during the soak", body);
}
