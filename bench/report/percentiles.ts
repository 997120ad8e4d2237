import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { metricsOf, workersOf } from "../results.ts";
import { median, percentile } from "../stats.ts";
import type { Row } from "./derive.ts";
import type { Source } from "./sources.ts";
import {
	chartGroups,
	colorOf,
	dashOf,
	escapeXml,
	fmtTick,
	groupTitle,
	inGroup,
	type LegendEntry,
	legend,
	legendWidth,
	logAxis,
	num,
	type SeriesFields,
	seriesKey,
	seriesOf,
	svgDocument,
	textWidth,
} from "./svg-kit.ts";

/**
 * Latency against percentile per cell, as HdrHistogram and oha plot it: the x axis is
 * log10(1 / (1 - p)), so 90%, 99%, 99.9% ... sit one step apart and the tail gets the room the
 * median would otherwise take. results.json keeps only a few percentiles per round, so the curves
 * come from the per-request CSVs under raw/.
 */

/** One cell (machine, runtime, workers, metrics, model, concurrency) over all of its rounds. */
export interface Curve extends SeriesFields {
	model: string;
	concurrency: number;
	/** Responses summed over the rounds (requests without a response have no duration). */
	requests: number;
	rounds: number;
	/** x = log10(1 / (1 - p)): 0 is p0 (the fastest request), 2 is p99; the last point the slowest. */
	points: { nines: number; ms: number }[];
}

/** Step between curve points, in decades of 1/(1-p): fine enough that the line looks smooth. */
const STEP = 0.02;

/** Percentiles the tooltips quote, put on the curve exactly rather than at the nearest step. */
const NAMED = [50, 90, 99, 99.9, 99.99, 99.999];

/**
 * A cell's curve over its rounds (each round's durations in ms, sorted): at every percentile, the
 * median over the rounds of that round's percentile (the tables' rule, stats.ts), as the tables
 * sum up rounds, so the curve passes through the row's p50 and p99 and one noisy round cannot
 * set its tail. It runs as far as the round with the fewest requests resolves; the last point is
 * the median of the rounds' slowest requests.
 */
export function percentileCurve(rounds: readonly (readonly number[])[]): Curve["points"] {
	const kept = rounds.filter((r) => r.length > 0);
	if (kept.length === 0) return [];
	const end = Math.log10(Math.min(...kept.map((r) => r.length)));
	const pcts: number[] = [];
	for (let i = 0; i * STEP < end; i++) pcts.push((1 - 10 ** -(i * STEP)) * 100);
	pcts.push(...NAMED.filter((p) => Math.log10(1 / (1 - p / 100)) < end));
	const across = (pick: (sorted: readonly number[]) => number) => median(kept.map(pick)) as number;
	const points = pcts
		.map((pct) => ({
			nines: Math.log10(1 / (1 - pct / 100)),
			ms: across((sorted) => percentile(sorted, pct) as number),
		}))
		.sort((a, b) => a.nines - b.nines);
	points.push({ nines: end, ms: across((sorted) => sorted[sorted.length - 1] as number) });
	return points;
}

/** duration_us of every row of a raw CSV, in ms. */
export function readDurationsMs(file: string): number[] {
	const lines = readFileSync(file, "utf8").split("\n");
	const header = (lines[0] ?? "").split(",");
	const column = header.indexOf("duration_us");
	if (column < 0) throw new Error(`${file}: no duration_us column`);
	const out: number[] = [];
	for (let i = 1; i < lines.length; i++) {
		const line = lines[i] as string;
		if (line === "") continue;
		const us = Number(line.split(",")[column]);
		if (!Number.isFinite(us) || us < 0) throw new Error(`${file}:${i + 1}: bad duration_us`);
		out.push(us / 1000);
	}
	return out;
}

/**
 * Every cell's curve, for the sources that know their folder. A cell missing one of its raw
 * files (results.json copied without raw/) gets no curve rather than a curve of fewer rounds.
 */
export function loadCurves(sources: readonly Source[]): Curve[] {
	const groups = new Map<string, { curve: Omit<Curve, "points" | "requests">; files: string[] }>();
	for (const source of sources) {
		if (source.dir === undefined) continue;
		for (const cell of source.results.cells) {
			// The timed twin of --stages is in the stage breakdown only, as in the tables.
			if (cell.timed) continue;
			const fields = {
				machine: source.label,
				runtime: cell.runtime,
				workers: workersOf(cell),
				metrics: metricsOf(cell),
				model: cell.model,
				concurrency: cell.concurrency,
			};
			const key = JSON.stringify(Object.values(fields));
			const group = groups.get(key) ?? { curve: { ...fields, rounds: 0 }, files: [] };
			group.curve.rounds++;
			group.files.push(join(source.dir, cell.rawFile));
			groups.set(key, group);
		}
	}
	const curves: Curve[] = [];
	for (const { curve, files } of groups.values()) {
		if (!files.every((f) => existsSync(f))) continue;
		const rounds = files.map((f) => readDurationsMs(f).sort((a, b) => a - b));
		const points = percentileCurve(rounds);
		const requests = rounds.reduce((sum, r) => sum + r.length, 0);
		if (points.length > 0) curves.push({ ...curve, requests, points });
	}
	return curves;
}

/**
 * "50%", "90%", "99%", "99.9%" ... for x = log10(2), 1, 2, 3 ... The left edge (0%, the fastest
 * request) goes unlabelled: its label would run into 50%'s.
 */
export function percentileTicks(maxNines: number): { nines: number; label: string }[] {
	const ticks = [{ nines: Math.log10(2), label: "50%" }];
	for (let k = 1; k <= maxNines; k++) {
		ticks.push({ nines: k, label: `${(100 - 10 ** (2 - k)).toFixed(Math.max(0, k - 2))}%` });
	}
	return ticks;
}

const PANEL_W = 300;
const PANEL_H = 220;
const GAP_X = 74;
const GAP_Y = 92;
const LEFT = 70;
const TOP = 60;

const CAPTION = [
	"Each point: the median over the cell's rounds of that round's percentile (as the tables' p50 and p99); the left edge is the fastest request, the right end the slowest.",
	"x: percentile p on a log10(1/(1-p)) scale, as HdrHistogram plots it; y: latency, log scale.",
];

/**
 * One panel per model and concurrency level (a row of panels per level), one line per runtime,
 * peer or target on shared log scales. A cell whose row derive marked generator-bound is named so
 * in its panel.
 */
export function percentileChart(
	curves: readonly Curve[],
	sources: readonly Source[],
	rows: readonly Row[] = [],
): string | null {
	if (curves.length === 0) return null;
	const series = seriesOf(curves, sources);
	const entries: LegendEntry[] = series.map((s, i) => ({
		label: s.label,
		color: colorOf(i),
		dash: dashOf(i),
	}));
	const models = chartGroups(sources, curves);
	const levels = [...new Set(curves.map((c) => c.concurrency))].sort((a, b) => a - b);
	// 4 panels as 2 x 2 rather than 3 + 1.
	const columns = models.length === 4 ? 2 : Math.min(3, models.length);
	const blockRows = Math.ceil(models.length / columns);
	const maxNines = Math.max(
		2,
		Math.ceil(Math.max(...curves.map((c) => c.points.at(-1)?.nines ?? 0))),
	);
	const all = curves.flatMap((c) => c.points.map((p) => p.ms)).filter((ms) => ms > 0);
	const axis = logAxis(Math.min(...all), Math.max(...all));
	const plotsW = LEFT + columns * PANEL_W + (columns - 1) * GAP_X;
	const width = Math.max(
		plotsW + 30 + legendWidth(entries) + 16,
		...CAPTION.map((line) => textWidth(line) + 32),
	);
	const height = TOP + levels.length * blockRows * (PANEL_H + GAP_Y) + 28;
	const body: string[] = [];
	let panel = 0;
	for (const level of levels) {
		models.forEach((model, m) => {
			const px = LEFT + (m % columns) * (PANEL_W + GAP_X);
			const py = TOP + (panel + Math.floor(m / columns)) * (PANEL_H + GAP_Y);
			const here = curves.filter((c) => inGroup(c, model) && c.concurrency === level);
			if (here.length === 0) return;
			const title = `${groupTitle(model, here)}, concurrency ${level}`;
			body.push(
				...percentilePanel(px, py, title, axis, maxNines),
				...here.map((c) => curveLine(c, series, entries, px, py, axis, maxNines)),
				...boundNote(rows, series, model, level, px, py),
			);
		});
		panel += blockRows;
	}
	body.push(
		...legend(plotsW + 30, TOP + 10, entries),
		...CAPTION.map(
			(line, i) => `<text x="16" y="${height - 34 + i * 18}" fill="#444">${escapeXml(line)}</text>`,
		),
	);
	return svgDocument(width, height, "Latency by percentile", body);
}

/** Names, top left in the panel (where the rising curves leave room), the generator-bound lines. */
function boundNote(
	rows: readonly Row[],
	series: readonly { key: string; label: string }[],
	model: string,
	level: number,
	px: number,
	py: number,
): string[] {
	const bound = series.filter((s) =>
		rows.some(
			(r) =>
				r.generatorBound && inGroup(r, model) && r.concurrency === level && seriesKey(r) === s.key,
		),
	);
	if (bound.length === 0) return [];
	const names = `generator-bound: ${bound.map((s) => s.label).join(", ")}`;
	const text =
		textWidth(names, 11) <= PANEL_W - 12 ? names : `generator-bound: ${bound.length} lines`;
	return [
		`<text x="${px + 6}" y="${py + 16}" fill="#b00000" font-size="11">${escapeXml(text)}</text>`,
	];
}

type Axis = ReturnType<typeof logAxis>;

const scaleX = (px: number, maxNines: number) => (nines: number) =>
	px + (PANEL_W * nines) / maxNines;
const scaleY = (py: number, axis: Axis) => (ms: number) =>
	py +
	PANEL_H -
	(PANEL_H * Math.log(Math.max(ms, axis.lo) / axis.lo)) / Math.log(axis.hi / axis.lo);

/** A panel's frame: title, gridlines, tick labels and axis titles. */
function percentilePanel(
	px: number,
	py: number,
	title: string,
	axis: Axis,
	maxNines: number,
): string[] {
	const x = scaleX(px, maxNines);
	const y = scaleY(py, axis);
	const bottom = py + PANEL_H;
	return [
		`<text x="${num(px + PANEL_W / 2)}" y="${py - 10}" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
		...axis.minor.map(
			(t) =>
				`<line x1="${px}" y1="${num(y(t))}" x2="${px + PANEL_W}" y2="${num(y(t))}" stroke="${axis.ticks.includes(t) ? "#d0d0d0" : "#eeeeee"}"/>`,
		),
		...axis.ticks.flatMap((t) => [
			`<text x="${px - 6}" y="${num(y(t) + 4)}" text-anchor="end">${escapeXml(fmtTick(t))}</text>`,
		]),
		...percentileTicks(maxNines).flatMap((t) => [
			`<line x1="${num(x(t.nines))}" y1="${py}" x2="${num(x(t.nines))}" y2="${bottom}" stroke="#e0e0e0"/>`,
			`<text x="${num(x(t.nines))}" y="${bottom + 16}" text-anchor="middle">${t.label}</text>`,
		]),
		`<rect x="${px}" y="${py}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#333"/>`,
		`<text x="${num(px + PANEL_W / 2)}" y="${bottom + 34}" text-anchor="middle">percentile</text>`,
		`<text transform="translate(${px - 50} ${py + PANEL_H / 2}) rotate(-90)" text-anchor="middle">latency (ms)</text>`,
	];
}

function curveLine(
	curve: Curve,
	series: readonly { key: string; label: string }[],
	entries: readonly LegendEntry[],
	px: number,
	py: number,
	axis: Axis,
	maxNines: number,
): string {
	const i = series.findIndex((s) => s.key === seriesKey(curve));
	const entry = entries[i] as LegendEntry;
	const x = scaleX(px, maxNines);
	const y = scaleY(py, axis);
	const at = (nines: number) => curve.points.find((p) => Math.abs(p.nines - nines) < 1e-6)?.ms;
	const fmt = (ms: number | undefined) => (ms === undefined ? "-" : `${ms.toFixed(3)} ms`);
	const tip = `${entry.label} ${curve.model}, concurrency ${curve.concurrency}: ${curve.requests} requests over ${curve.rounds} round(s); p50 ${fmt(at(Math.log10(2)))}, p99 ${fmt(at(2))}, max ${fmt(curve.points.at(-1)?.ms)}`;
	const points = curve.points.map((p) => `${num(x(p.nines))},${num(y(p.ms))}`).join(" ");
	return `<polyline points="${points}" fill="none" stroke="${entry.color}" stroke-width="2"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""}><title>${escapeXml(tip)}</title></polyline>`;
}
