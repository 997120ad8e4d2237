import { isPeer, PEER_CELLS } from "../peers.ts";
import { FLOOR, FLOOR_POST, type MetricsSetting } from "../results.ts";
import {
	metricsLabel,
	modelOrder,
	runtimeOrder,
	type Source,
	severalMetrics,
	severalWorkers,
} from "./sources.ts";

/** What the charts share: palette, escaping, axes, legends and series naming. */

/**
 * Okabe and Ito's colour-blind-safe palette without its yellow, which is unreadable on white:
 * runtimes and peers stay apart under the common colour-vision deficiencies.
 */
export const COLORS = [
	"#0072B2",
	"#E69F00",
	"#009E73",
	"#D55E00",
	"#CC79A7",
	"#56B4E9",
	"#000000",
	"#999999",
];
/** Line dashes paired with the colours, so lines stay apart in grey print too. */
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 2 4 6", "1 2", "10 4", "3 6"];

export const colorOf = (i: number): string => COLORS[i % COLORS.length] as string;
/** Shifted by one each time the colours come round again, so no two of 64 series look alike. */
export const dashOf = (i: number): string =>
	DASHES[(i + Math.floor(i / COLORS.length)) % DASHES.length] as string;

export const escapeXml = (text: string): string =>
	text.replace(
		/[<>&"']/g,
		(c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
	);

export const num = (n: number) => (Math.round(n * 100) / 100).toString();

/**
 * A generous estimate of a label's width in the charts' 12px sans-serif (no font metrics without
 * a browser): wide enough that a label placed by it is never clipped.
 */
export const textWidth = (text: string, px = 12, bold = false): number =>
	Math.ceil(text.length * px * (bold ? 0.64 : 0.6)) + 2;

export function niceMax(value: number): number {
	if (!(value > 0)) return 1;
	const magnitude = 10 ** Math.floor(Math.log10(value));
	for (const step of [1, 2, 2.5, 5, 10]) {
		if (step * magnitude >= value) return step * magnitude;
	}
	return 10 * magnitude;
}

/** Drops float noise (0.1 * 3) so ticks compare and print as the numbers they are. */
const clean = (n: number): number => Number(n.toPrecision(12));

/**
 * A log axis over [min, max]: from the largest 1-2-5 value at or below min to the smallest at or
 * above max. `minor` holds every 1-2-5 value between (for gridlines), `ticks` the labelled ones:
 * all of them up to 3 decades, only the powers of ten past that, where the 2s and 5s would crowd.
 */
export function logAxis(
	min: number,
	max: number,
): { lo: number; hi: number; ticks: number[]; minor: number[] } {
	const lowest = min > 0 ? min : max > 0 ? max : 1;
	const highest = Math.max(max, lowest);
	const candidates: number[] = [];
	for (let e = Math.floor(Math.log10(lowest)) - 1; e <= Math.ceil(Math.log10(highest)) + 1; e++) {
		for (const d of [1, 2, 5]) candidates.push(clean(d * 10 ** e));
	}
	const lo = Math.max(...candidates.filter((c) => c <= lowest));
	const top = Math.min(...candidates.filter((c) => c >= highest * (1 - 1e-9)));
	// One value alone (a single request, or all equal) still needs a span to draw.
	const hi = top > lo ? top : (candidates.find((c) => c > lo) as number);
	const minor = candidates.filter((c) => c >= lo && c <= hi);
	const decades = Math.log10(hi / lo);
	const ticks = decades > 3 ? minor.filter((c) => c.toExponential().startsWith("1")) : minor;
	return { lo, hi, ticks, minor };
}

export function fmtTick(value: number): string {
	if (value === 0) return "0";
	if (value >= 100) return value.toFixed(0);
	if (value >= 1) return Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1);
	return clean(value).toString();
}

export function svgDocument(width: number, height: number, title: string, body: string[]): string {
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

/** A linear y axis from 0 to max with 5 gridlines; its label sits `labelGap` left of the axis. */
export function yAxis(
	left: number,
	top: number,
	plotH: number,
	plotW: number,
	max: number,
	label: string,
	labelGap = 62,
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
		`<text transform="translate(${left - labelGap} ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
	);
	return out;
}

export interface LegendEntry {
	label: string;
	color: string;
	/** Absent: a swatch; present: a line with that dash ("" for solid). */
	dash?: string;
}

export function legend(x: number, y: number, entries: readonly LegendEntry[]): string[] {
	return entries.flatMap((entry, i) => {
		const ly = y + i * 18;
		return [
			`<line x1="${x}" y1="${ly}" x2="${x + 24}" y2="${ly}" stroke="${entry.color}" stroke-width="${entry.dash === undefined ? 10 : 2.5}"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""}/>`,
			`<text x="${x + 30}" y="${ly + 4}">${escapeXml(entry.label)}</text>`,
		];
	});
}

/** The width a legend of these entries takes. */
export const legendWidth = (entries: readonly LegendEntry[]): number =>
	30 + Math.max(0, ...entries.map((e) => textWidth(e.label)));

/** What identifies a chart series: a row or curve's machine, runtime, workers and metrics. */
export interface SeriesFields {
	machine: string;
	runtime: string;
	workers: number;
	metrics: MetricsSetting | null;
}

export const seriesKey = (r: SeriesFields) =>
	JSON.stringify([r.machine, r.runtime, r.workers, r.metrics]);

/**
 * One series per machine, runtime, workers and metrics value ("node x2" when several workers were
 * run, "node metrics=off" when both METRICS values were), in the sources' runtime order, so a
 * runtime keeps its colour in every chart of a report. Runtimes the options do not list (peers,
 * outside targets) follow in the order the items hold them.
 */
export function seriesOf(
	items: readonly SeriesFields[],
	sources: readonly Source[],
): { key: string; label: string }[] {
	const merged = sources.length > 1;
	const labelWorkers = severalWorkers(items);
	const labelMetrics = severalMetrics(items);
	const runtimes = [...new Set([...runtimeOrder(sources), ...items.map((r) => r.runtime)])];
	const workerValues = [...new Set(items.map((r) => r.workers))].sort((a, b) => a - b);
	const metricsValues = [...new Set(items.map((r) => r.metrics))];
	const keys = new Set(items.map(seriesKey));
	const out: { key: string; label: string }[] = [];
	for (const source of sources) {
		for (const runtime of runtimes) {
			for (const workers of workerValues) {
				for (const metrics of metricsValues) {
					const key = seriesKey({ machine: source.label, runtime, workers, metrics });
					if (!keys.has(key)) continue;
					const name = `${labelWorkers ? `${runtime} x${workers}` : runtime}${labelMetrics ? ` metrics=${metricsLabel(metrics)}` : ""}`;
					out.push({ key, label: merged ? `${name} (${source.label})` : name });
				}
			}
		}
	}
	return out;
}

/** A cell's name in the charts; the floors say what they request. */
export const modelLabel = (model: string): string =>
	model === FLOOR
		? `${FLOOR} (/health)`
		: model === FLOOR_POST
			? `${FLOOR_POST} (constant)`
			: model;

/** Models in the sources' order, then any the rows add (outside targets), each once. */
export const chartModels = (sources: readonly Source[], items: readonly { model: string }[]) =>
	[...new Set([...modelOrder(sources), ...items.map((r) => r.model)])].filter((m) =>
		items.some((r) => r.model === m),
	);

/**
 * The cell a peer measured for our model under a name of its own (fastapi's `mlp` stands in for
 * mlp-onnx and mlp-ts, peers.ts), or null: the charts draw it in that model's group, beside the
 * runtimes it is compared with.
 */
export function standIn(runtime: string, model: string): string | null {
	if (!isPeer(runtime)) return null;
	const cell = PEER_CELLS[runtime][model]?.model;
	return cell !== undefined && cell !== model ? cell : null;
}

/** Whether an item is drawn in model's group: its own cell, or a peer's stand-in for it. */
export const inGroup = (item: { runtime: string; model: string }, model: string): boolean =>
	item.model === model || standIn(item.runtime, model) === item.model;

/** The chart's groups: chartModels, less peer cells already drawn in the groups they stand in for. */
export function chartGroups(
	sources: readonly Source[],
	items: readonly { runtime: string; model: string }[],
): string[] {
	const models = chartModels(sources, items);
	return models.filter(
		(m) =>
			!items
				.filter((i) => i.model === m)
				.every((i) => models.some((g) => g !== m && standIn(i.runtime, g) === m)),
	);
}

/** A group's title: the model, and which peer cells stand in for it ("mlp-onnx (fastapi: mlp)"). */
export function groupTitle(
	model: string,
	items: readonly { runtime: string; model: string }[],
): string {
	const standIns = [
		...new Set(
			items
				.filter((i) => i.model !== model && inGroup(i, model))
				.map((i) => `${i.runtime}: ${i.model}`),
		),
	];
	return `${modelLabel(model)}${standIns.length > 0 ? ` (${standIns.join(", ")})` : ""}`;
}
