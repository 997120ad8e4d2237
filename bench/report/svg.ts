import type { Row } from "./derive.ts";
import { type Source, severalWorkers } from "./sources.ts";
import {
	chartGroups,
	colorOf,
	escapeXml,
	fmtTick,
	groupTitle,
	inGroup,
	type LegendEntry,
	legend,
	legendWidth,
	logAxis,
	modelLabel,
	niceMax,
	num,
	seriesKey,
	seriesOf,
	svgDocument,
	textWidth,
	yAxis,
} from "./svg-kit.ts";

/** Standalone SVG charts: no scripts, no external fonts or styles, so any viewer renders them. */

const GEN_BOUND_NOTE =
	"generator-bound: the load generator used 90% or more of a core, so the figure is its limit, not the server's";

/**
 * The latency chart's rows: a header per model, then one line per series that has that model (a
 * peer's stand-in cell named after the peer: "fastapi (mlp)").
 */
function dotPlotLines(
	rows: readonly Row[],
	sources: readonly Source[],
): { model: string; series: { key: string; label: string; color: string }[] }[] {
	const series = seriesOf(rows, sources).map((s, i) => ({ ...s, color: colorOf(i) }));
	return chartGroups(sources, rows).map((model) => ({
		model,
		series: series.flatMap((s) => {
			const row = rows.find((r) => inGroup(r, model) && seriesKey(r) === s.key);
			if (!row) return [];
			return [row.model === model ? s : { ...s, label: `${s.label} (${row.model})` }];
		}),
	}));
}

const KEY_TEXT = "p99 (each the median over the rounds, as in the tables)";
const HEADER_H = 22;
const LINE_H = 18;
const GROUP_GAP = 8;

/**
 * p50 and p99 per runtime and model as a dot plot on a log axis, one panel per concurrency level:
 * p50s from 0.03 ms to several ms all stay readable, and the line from p50 to p99 shows the tail.
 * (Bars on a linear axis left the p50s as slivers under p99s twenty times their size.)
 */
export function latencyChart(rows: readonly Row[], sources: readonly Source[]): string {
	const levels = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
	const lines = dotPlotLines(rows, sources);
	const labelW = Math.max(
		...lines.map((l) => textWidth(modelLabel(l.model), 12, true)),
		...lines.flatMap((l) => l.series.map((s) => 18 + textWidth(s.label))),
	);
	const left = 16 + labelW + 12;
	const top = 64;
	const gapX = 36;
	const plotH = lines.reduce((h, l) => h + HEADER_H + l.series.length * LINE_H + GROUP_GAP, 0);
	const values = rows.flatMap((r) => [r.p50Ms, r.p99Ms]).filter((v): v is number => v !== null);
	const axis = logAxis(Math.min(...values), Math.max(...values));
	const anyBound = rows.some((r) => r.generatorBound);
	const title = "Latency by runtime and model: p50 and p99";
	// The panels widen to whatever the title, key and note need, so nothing runs off the right.
	const needed = Math.max(
		textWidth(title, 15, true) + 40,
		anyBound ? textWidth(GEN_BOUND_NOTE) + 32 : 0,
		left + 104 + textWidth(KEY_TEXT) + 16,
	);
	const panelW = Math.max(380, (needed - left - 24 - (levels.length - 1) * gapX) / levels.length);
	const width = Math.ceil(left + levels.length * panelW + (levels.length - 1) * gapX + 24);
	const height = top + plotH + 92 + (anyBound ? 18 : 0);
	const body = dotPlotLabels(lines, top, left + levels.length * (panelW + gapX) - gapX);
	levels.forEach((level, i) => {
		const px = left + i * (panelW + gapX);
		const x = (ms: number) => px + (panelW * Math.log(ms / axis.lo)) / Math.log(axis.hi / axis.lo);
		body.push(
			`<text x="${num(px + panelW / 2)}" y="${top - 12}" text-anchor="middle" font-weight="bold">concurrency ${level}</text>`,
			...logXAxis(axis, x, top, plotH, "latency (ms, log scale)"),
			...dotPlotCells(
				rows.filter((r) => r.concurrency === level),
				lines,
				x,
				top,
				[px, px + panelW],
			),
		);
	});
	const keyY = top + plotH + 64;
	body.push(...dotPlotKey(left, keyY));
	if (anyBound)
		body.push(
			`<text x="16" y="${keyY + 22}" fill="#b00000">${escapeXml(`* ${GEN_BOUND_NOTE}`)}</text>`,
		);
	return svgDocument(width, height, title, body);
}

/** The label column (model headers, a swatch and name per series) and light bands per model. */
function dotPlotLabels(
	lines: ReturnType<typeof dotPlotLines>,
	top: number,
	right: number,
): string[] {
	const out: string[] = [];
	let y = top;
	lines.forEach((line, i) => {
		const h = HEADER_H + line.series.length * LINE_H + GROUP_GAP;
		if (i % 2 === 0)
			out.push(`<rect x="8" y="${y}" width="${right - 8}" height="${h}" fill="#f4f4f4"/>`);
		out.push(
			`<text x="16" y="${y + 16}" font-weight="bold">${escapeXml(modelLabel(line.model))}</text>`,
		);
		line.series.forEach((s, j) => {
			const ly = y + HEADER_H + j * LINE_H + LINE_H / 2;
			out.push(
				`<rect x="20" y="${ly - 5}" width="10" height="10" fill="${s.color}"/>`,
				`<text x="36" y="${ly + 4}">${escapeXml(s.label)}</text>`,
			);
		});
		y += h;
	});
	return out;
}

/** Vertical gridlines at every 1-2-5 value, labels below the plot, and the axis title. */
function logXAxis(
	axis: ReturnType<typeof logAxis>,
	x: (ms: number) => number,
	top: number,
	plotH: number,
	label: string,
): string[] {
	const bottom = top + plotH;
	const out = axis.minor.map(
		(t) =>
			`<line x1="${num(x(t))}" y1="${top}" x2="${num(x(t))}" y2="${bottom}" stroke="${axis.ticks.includes(t) ? "#c8c8c8" : "#e4e4e4"}"/>`,
	);
	out.push(
		...axis.ticks.map(
			(t) =>
				`<text x="${num(x(t))}" y="${bottom + 16}" text-anchor="middle">${escapeXml(fmtTick(t))}</text>`,
		),
		`<line x1="${num(x(axis.lo))}" y1="${bottom}" x2="${num(x(axis.hi))}" y2="${bottom}" stroke="#333"/>`,
		`<text x="${num((x(axis.lo) + x(axis.hi)) / 2)}" y="${bottom + 34}" text-anchor="middle">${escapeXml(label)}</text>`,
	);
	return out;
}

/** One panel's markers: a filled dot at p50, an open one at p99, a line between them. */
function dotPlotCells(
	rows: readonly Row[],
	lines: ReturnType<typeof dotPlotLines>,
	x: (ms: number) => number,
	top: number,
	edges: [left: number, right: number],
): string[] {
	const out: string[] = [];
	let y = top;
	for (const line of lines) {
		line.series.forEach((s, j) => {
			const row = rows.find((r) => inGroup(r, line.model) && seriesKey(r) === s.key);
			const cy = y + HEADER_H + j * LINE_H + LINE_H / 2;
			if (!row || row.p50Ms === null) return;
			const p99 = row.p99Ms;
			const tip = `${s.label} ${row.model}: p50 ${row.p50Ms.toFixed(3)} ms, p99 ${p99 === null ? "-" : `${p99.toFixed(3)} ms`}, concurrency ${row.concurrency}${row.generatorBound ? ", generator-bound" : ""}`;
			out.push(`<g><title>${escapeXml(tip)}</title>`);
			if (p99 !== null)
				out.push(
					`<line x1="${num(x(row.p50Ms))}" y1="${cy}" x2="${num(x(p99))}" y2="${cy}" stroke="${s.color}" stroke-width="2"/>`,
					`<circle cx="${num(x(p99))}" cy="${cy}" r="4" fill="#ffffff" stroke="${s.color}" stroke-width="2"/>`,
				);
			out.push(`<circle cx="${num(x(row.p50Ms))}" cy="${cy}" r="5" fill="${s.color}"/>`);
			if (row.generatorBound) out.push(boundMark(x(row.p50Ms), x(p99 ?? row.p50Ms), cy, edges));
			out.push("</g>");
		});
		y += HEADER_H + line.series.length * LINE_H + GROUP_GAP;
	}
	return out;
}

/** "generator-bound *" beside a cell's markers: after the ring if it fits, else before the dot. */
function boundMark(
	p50x: number,
	p99x: number,
	cy: number,
	[left, right]: [number, number],
): string {
	const text = "generator-bound *";
	const w = textWidth(text, 11);
	const [x, anchor] =
		p99x + 8 + w <= right
			? [p99x + 8, "start"]
			: p50x - 8 - w >= left
				? [p50x - 8, "end"]
				: [right - 4, "end"];
	return `<text x="${num(x)}" y="${cy + 4}" text-anchor="${anchor}" fill="#b00000" font-size="11">${text}</text>`;
}

/** What the markers mean. */
function dotPlotKey(x: number, y: number): string[] {
	return [
		`<circle cx="${x + 5}" cy="${y - 4}" r="5" fill="#555"/>`,
		`<text x="${x + 16}" y="${y}">p50</text>`,
		`<line x1="${x + 52}" y1="${y - 4}" x2="${x + 92}" y2="${y - 4}" stroke="#555" stroke-width="2"/>`,
		`<circle cx="${x + 92}" cy="${y - 4}" r="4" fill="#ffffff" stroke="#555" stroke-width="2"/>`,
		`<text x="${x + 104}" y="${y}">${KEY_TEXT}</text>`,
	];
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
	const entries: LegendEntry[] = series.map((s, i) => ({
		label: s.label,
		color: colorOf(i),
		dash: "",
	}));
	const models = chartGroups(sources, rows);
	const columns = Math.min(3, models.length);
	const panelW = Math.max(220, levels.length * 70);
	const panelH = 180;
	const gapX = 90;
	const gapY = 70;
	const left = 80;
	const top = 50;
	const anyBound = rows.some((r) => r.generatorBound);
	const width = Math.max(
		left + columns * panelW + (columns - 1) * gapX + 30 + legendWidth(entries) + 16,
		anyBound ? textWidth(GEN_BOUND_NOTE) + 32 : 0,
	);
	const panelRows = Math.ceil(models.length / columns);
	const height =
		Math.max(top + panelRows * (panelH + gapY), top + 20 + series.length * 18) +
		(anyBound ? 24 : 0);
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
			`<text x="${num(px + panelW / 2)}" y="${py - 8}" text-anchor="middle" font-weight="bold">${escapeXml(groupTitle(model, rows))}</text>`,
			...yAxis(px, py, panelH, panelW, max, "req/s"),
			`<line x1="${px}" y1="${py + panelH}" x2="${px + panelW}" y2="${py + panelH}" stroke="#333"/>`,
			...levels.map(
				(level) =>
					`<text x="${num(x(level))}" y="${py + panelH + 16}" text-anchor="middle">${level}</text>`,
			),
			`<text x="${num(px + panelW / 2)}" y="${py + panelH + 34}" text-anchor="middle">concurrency</text>`,
		);
		body.push(...throughputLines(rows, series, model, x, y));
	});
	body.push(...legend(left + columns * panelW + (columns - 1) * gapX + 30, top + 10, entries));
	if (anyBound)
		body.push(
			`<text x="16" y="${height - 12}" fill="#b00000">${escapeXml(`red ring: ${GEN_BOUND_NOTE}`)}</text>`,
		);
	return svgDocument(width, height, "Throughput against concurrency", body);
}

/** A throughput panel's lines, one per series; a generator-bound point is a red ring. */
function throughputLines(
	rows: readonly Row[],
	series: readonly { key: string }[],
	model: string,
	x: (level: number) => number,
	y: (rps: number) => number,
): string[] {
	return series.flatMap((s, i) => {
		const points = rows
			.filter((r) => inGroup(r, model) && seriesKey(r) === s.key)
			.sort((a, b) => a.concurrency - b.concurrency)
			.map((r) => ({ px: x(r.concurrency), py: y(r.rps), bound: r.generatorBound }));
		if (points.length === 0) return [];
		const color = colorOf(i);
		return [
			`<polyline points="${points.map((p) => `${num(p.px)},${num(p.py)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`,
			...points.map((p) =>
				p.bound
					? `<circle cx="${num(p.px)}" cy="${num(p.py)}" r="5" fill="#ffffff" stroke="#b00000" stroke-width="2"><title>generator-bound</title></circle>`
					: `<circle cx="${num(p.px)}" cy="${num(p.py)}" r="3" fill="${color}"/>`,
			),
		];
	});
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
	const entries: LegendEntry[] = runs.map(({ source, run }, i) => {
		const name = labelWorkers ? `${run.runtime} x${run.workers}` : run.runtime;
		const label = `${merged ? `${name} (${source.label})` : name} ${run.pass ? "PASS" : "FAIL"}`;
		return { label, color: colorOf(i), dash: "" };
	});
	const width = left + plotW + 20 + legendWidth(entries) + 16;
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
	runs.forEach(({ run }, i) => {
		const { label, color } = entries[i] as LegendEntry;
		const points = run.rss.map((p) => `${num(x(p.tMs / 1000))},${num(y(p.kib / 1024))}`);
		body.push(
			`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"><title>${escapeXml(label)}</title></polyline>`,
		);
	});
	body.push(
		`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
		`<text x="${left + plotW / 2}" y="${top + plotH + 42}" text-anchor="middle">seconds of load (VmRSS summed over the server's processes, sampled every second)</text>`,
		...legend(left + plotW + 20, top + 10, entries),
	);
	return svgDocument(width, height, "Server RSS during the soak", body);
}
