import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { derive } from "../../bench/report/derive.ts";
import {
	loadCurves,
	percentileChart,
	percentileCurve,
	percentileTicks,
	readDurationsMs,
} from "../../bench/report/percentiles.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { latencyChart, throughputChart } from "../../bench/report/svg.ts";
import { colorOf, dashOf, fmtTick, logAxis, textWidth } from "../../bench/report/svg-kit.ts";
import { type Cell, type Results, readResults } from "../../bench/results.ts";
import { FIXTURES, tempDir } from "./helpers.ts";

const load = (): Results => readResults(join(FIXTURES, "results.json"));

/**
 * The fixture (node and bun; mlp-onnx and floor; concurrency 1 and 8; 3 rounds) plus a peer,
 * `fastapi`, serving mlp, and an outside target, `other`, at /predict: every kind of series a
 * report can hold. Bun's concurrency-8 rounds had a generator at 95% of a core: generator-bound.
 */
function withPeers(): Results {
	const results = load();
	const node = results.cells.filter((c) => c.runtime === "node" && c.model === "mlp-onnx");
	const scaled = (cell: Cell, runtime: string, model: string, factor: number): Cell => ({
		...cell,
		runtime,
		model,
		rawFile: cell.rawFile.replace("node-mlp-onnx", `${runtime}-${model.replace(/\W/g, "")}`),
		stats: {
			...cell.stats,
			p50Ms: (cell.stats.p50Ms ?? 0) * factor,
			p99Ms: (cell.stats.p99Ms ?? 0) * factor,
		},
	});
	results.cells.push(
		...node.map((c) => scaled(c, "fastapi", "mlp", 8)),
		...node.map((c) => scaled(c, "other", "/predict", 0.2)),
	);
	for (const cell of results.cells) {
		if (cell.runtime === "bun" && cell.concurrency === 8)
			cell.generatorCpu = { cpuMs: 950, wallMs: 1000 };
	}
	return results;
}

/** Writes a raw CSV per cell of `results` under dir: 100 requests of 100..199 µs times the p50. */
function writeRaw(dir: string, results: Results): void {
	mkdirSync(join(dir, "raw"), { recursive: true });
	for (const cell of results.cells) {
		const scale = (cell.stats.p50Ms ?? 0.1) / 0.15;
		const lines = ["start_us,duration_us,status,infer_ms"];
		for (let k = 0; k < 100; k++) lines.push(`${k * 300},${((100 + k) * scale).toFixed(3)},200,`);
		writeFileSync(join(dir, cell.rawFile), `${lines.join("\n")}\n`);
	}
}

/** Tags balance and nest, and every & starts an entity: what an XML parser needs first. */
function assertWellFormed(svg: string): void {
	const stack: string[] = [];
	for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
		const [, closing, name, selfClosing] = match;
		if (selfClosing) continue;
		if (closing) expect(stack.pop()).toBe(name as string);
		else stack.push(name as string);
	}
	expect(stack).toEqual([]);
	expect(svg).not.toMatch(/&(?!(lt|gt|amp|quot|apos);)/);
}

const unescapeXml = (s: string) =>
	s.replace(
		/&(lt|gt|amp|quot|apos);/g,
		(_, e: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" })[e] as string,
	);

/**
 * Every shape's coordinates, and every label's estimated extent (svg-kit's textWidth, from its
 * anchor), inside the viewBox: a structural check that nothing is drawn off the canvas.
 */
function outsideViewBox(svg: string): string[] {
	const [, w, h] = (svg.match(/viewBox="0 0 ([\d.]+) ([\d.]+)"/) ?? []).map(Number) as number[];
	const bad: string[] = [];
	const inX = (x: number) => x >= 0 && x <= (w as number);
	const inY = (y: number) => y >= 0 && y <= (h as number);
	for (const [, tag, attrText, content] of svg.matchAll(
		/<(line|rect|circle|polyline|text)\b([^>]*?)\/?>(?:([^<]*)<\/text>)?/g,
	)) {
		const a = Object.fromEntries(
			[...(attrText as string).matchAll(/([\w-]+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
		) as Record<string, string>;
		const n = (k: string) => Number(a[k] ?? 0);
		const ok = (() => {
			if (tag === "line") return inX(n("x1")) && inX(n("x2")) && inY(n("y1")) && inY(n("y2"));
			if (tag === "rect")
				return inX(n("x")) && inX(n("x") + n("width")) && inY(n("y")) && inY(n("y") + n("height"));
			if (tag === "circle")
				return (
					inX(n("cx") - n("r")) &&
					inX(n("cx") + n("r")) &&
					inY(n("cy") - n("r")) &&
					inY(n("cy") + n("r"))
				);
			if (tag === "polyline")
				return (a.points ?? "").split(" ").every((p) => {
					const [x, y] = p.split(",").map(Number);
					return inX(x as number) && inY(y as number);
				});
			const tw = textWidth(unescapeXml(content ?? ""), Number(a["font-size"] ?? 12));
			const rotated = a.transform?.match(/translate\(([\d.-]+) ([\d.-]+)\) rotate\(-90\)/);
			if (rotated) {
				const [x, y] = [Number(rotated[1]), Number(rotated[2])];
				return inX(x - 12) && inY(y - tw / 2) && inY(y + tw / 2);
			}
			const anchor = a["text-anchor"] ?? "start";
			const left = anchor === "end" ? n("x") - tw : anchor === "middle" ? n("x") - tw / 2 : n("x");
			return inX(left) && inX(left + tw) && inY(n("y") - 12) && inY(n("y") + 3);
		})();
		if (!ok) bad.push(`<${tag}${attrText}>${content ?? ""}`);
	}
	return bad;
}

describe("log axis", () => {
	test("1-2-5 ticks from just below the least to just above the greatest value", () => {
		expect(logAxis(0.03, 2)).toEqual({
			lo: 0.02,
			hi: 2,
			ticks: [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
			minor: [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
		});
		expect(logAxis(0.057, 3.05)).toMatchObject({ lo: 0.05, hi: 5 });
		expect(logAxis(1, 10).ticks).toEqual([1, 2, 5, 10]);
	});

	test("past 3 decades only the powers of ten are labelled, the rest stay gridlines", () => {
		const axis = logAxis(0.025, 27.9);
		expect(axis).toMatchObject({ lo: 0.02, hi: 50, ticks: [0.1, 1, 10] });
		expect(axis.minor).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50]);
	});

	test("one value still gets a span; labels print without float noise", () => {
		expect(logAxis(0.2, 0.2)).toMatchObject({ lo: 0.2, hi: 0.5 });
		expect(logAxis(0.3, 0.3)).toMatchObject({ lo: 0.2, hi: 0.5 });
		expect([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 100].map(fmtTick)).toEqual([
			"0.02",
			"0.05",
			"0.1",
			"0.2",
			"0.5",
			"1",
			"2",
			"5",
			"10",
			"100",
		]);
	});
});

test("series stay apart: no two of 64 share both colour and dash", () => {
	const looks = Array.from({ length: 64 }, (_, i) => `${colorOf(i)} ${dashOf(i)}`);
	expect(new Set(looks).size).toBe(64);
});

describe("percentile curves", () => {
	test("the tables' rule at the named percentiles, the max at the end, never falling", () => {
		const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
		const curve = percentileCurve([sorted]);
		const at = (nines: number) => curve.find((p) => Math.abs(p.nines - nines) < 1e-6)?.ms;
		expect(curve[0]).toEqual({ nines: 0, ms: 1 });
		expect(at(Math.log10(2))).toBe(501); // sorted[floor(0.5 * 1000)], as stats.ts and oha
		expect(at(1)).toBe(901);
		expect(at(2)).toBe(991);
		expect(curve.at(-1)).toEqual({ nines: 3, ms: 1000 });
		for (let i = 1; i < curve.length; i++) {
			expect(curve[i]?.nines as number).toBeGreaterThanOrEqual(curve[i - 1]?.nines as number);
			expect(curve[i]?.ms as number).toBeGreaterThanOrEqual(curve[i - 1]?.ms as number);
		}
		expect(percentileCurve([])).toEqual([]);
		expect(percentileCurve([[]])).toEqual([]);
	});

	test("over rounds: each point the median of the rounds' percentiles, as the tables' p50 and p99", () => {
		const range = (from: number) => Array.from({ length: 100 }, (_, i) => from + i);
		const curve = percentileCurve([range(1), range(1001), range(101)]);
		const at = (nines: number) => curve.find((p) => Math.abs(p.nines - nines) < 1e-6)?.ms;
		expect(at(Math.log10(2))).toBe(151); // median(51, 1051, 151): the noisy round does not set it
		// With 100 requests p99 is sorted[99], the slowest: median(100, 1100, 200), where the curve ends.
		expect(at(2)).toBe(200);
		expect(curve.at(-1)).toEqual({ nines: 2, ms: 200 });
		// It runs only as far as the shortest round resolves.
		expect(percentileCurve([range(1), range(1).slice(0, 10)]).at(-1)?.nines).toBe(1);
	});

	test("ticks name the percentiles at 1, 2, 3 ... nines", () => {
		expect(percentileTicks(4).map((t) => t.label)).toEqual([
			"50%",
			"90%",
			"99%",
			"99.9%",
			"99.99%",
		]);
	});

	test("loaded from raw/ with the rounds pooled; a cell missing a file gets none", () => {
		const dir = tempDir("curves");
		const results = withPeers();
		writeRaw(dir, results);
		const missing = results.cells.find((c) => c.runtime === "bun" && c.model === "floor");
		rmSync(join(dir, (missing as Cell).rawFile));
		const curves = loadCurves(labelSources([results], [dir]));
		// 4 series x 2 levels x their models, less bun's floor at the level whose file is gone.
		expect(curves).toHaveLength(2 * 2 + 2 * 2 + 2 + 2 - 1);
		const node = curves.find((c) => c.runtime === "node" && c.model === "mlp-onnx");
		expect(node).toMatchObject({ requests: 300, rounds: 3, concurrency: 1 });
		expect(loadCurves(labelSources([results]))).toEqual([]);
	});

	test("a --stages run's timed twin draws no curve and joins none: the untimed server's alone", () => {
		const dir = tempDir("curves-timed");
		const results = withPeers();
		const twins = results.cells
			.filter((c) => c.runtime === "node" && c.model === "mlp-onnx")
			.map(
				(c): Cell => ({ ...c, timed: true, rawFile: c.rawFile.replace("node-", "node-stages-") }),
			);
		writeRaw(dir, results);
		const plain = loadCurves(labelSources([results], [dir]));
		results.cells.push(...twins);
		writeRaw(dir, results);
		expect(loadCurves(labelSources([results], [dir]))).toEqual(plain);
	});

	test("a raw file without durations is one clear error naming the file and line", () => {
		const dir = tempDir("bad-raw");
		const file = join(dir, "x.csv");
		writeFileSync(file, "start_us,duration_us,status,infer_ms\n1,2,200,\n3,abc,200,\n");
		expect(() => readDurationsMs(file)).toThrow(`${file}:3: bad duration_us`);
		writeFileSync(file, "a,b\n1,2\n");
		expect(() => readDurationsMs(file)).toThrow("no duration_us column");
	});
});

/** The hand-made report's charts, rendered from derived rows and raw files of its own. */
function charts(): Record<string, string> {
	const dir = tempDir("charts");
	const results = withPeers();
	writeRaw(dir, results);
	const sources = labelSources([results], [dir]);
	const { rows } = derive(sources);
	return {
		latency: latencyChart(rows, sources),
		percentiles: percentileChart(loadCurves(sources), sources, rows) ?? "",
		throughput: throughputChart(rows, sources) ?? "",
	};
}

describe("charts of a report with a peer, an outside target and a generator-bound cell", () => {
	const svgs = charts();

	test("latency: a p50 dot and a p99 ring per cell on a log axis, every series named", () => {
		const svg = svgs.latency as string;
		assertWellFormed(svg);
		// node, bun: 2 models; fastapi, other: 1; at 2 levels; 2 circles each.
		expect(svg.match(/<circle /g)?.length).toBe((2 * 2 + 1 + 1) * 2 * 2 + 2);
		for (const label of ["node", "bun", "other", "/predict", "floor (/health)"])
			expect(svg).toContain(`>${label}</text>`);
		// The peer's mlp is drawn with the mlp-onnx it stands in for (peers.ts), not on its own.
		expect(svg).toContain(">fastapi (mlp)</text>");
		expect(svg).not.toContain(">mlp</text>");
		expect(svg).toContain(">latency (ms, log scale)</text>");
		expect(svg).toContain(">concurrency 8</text>");
		expect(svg).toContain("node mlp-onnx: p50 0.400 ms, p99 0.800 ms, concurrency 1");
		expect(svg.match(/>generator-bound \*<\/text>/g)).toHaveLength(2);
		expect(svg).toContain("generator-bound: the load generator used 90% or more of a core");
	});

	test("percentiles: a panel per model and level, a line per series, bound lines named", () => {
		const svg = svgs.percentiles as string;
		assertWellFormed(svg);
		expect(svg.match(/<polyline /g)).toHaveLength(12);
		expect(svg).toContain(">mlp-onnx (fastapi: mlp), concurrency 1</text>");
		expect(svg).not.toContain(">mlp, concurrency 1</text>");
		expect(svg).toContain(">/predict, concurrency 8</text>");
		expect(svg).toContain(">99%</text>");
		expect(svg.match(/>generator-bound: bun<\/text>/g)).toHaveLength(2);
		expect(svg).toContain("node mlp-onnx, concurrency 1: 300 requests over 3 round(s)");
		expect(svg).toContain(">fastapi</text>");
	});

	test("throughput marks the generator-bound points", () => {
		const svg = svgs.throughput as string;
		assertWellFormed(svg);
		expect(svg.match(/<title>generator-bound<\/title>/g)).toHaveLength(2);
		expect(svg).toContain(">mlp-onnx (fastapi: mlp)</text>");
	});

	test("nothing is placed outside the viewBox", () => {
		for (const [name, svg] of Object.entries(svgs))
			expect([name, outsideViewBox(svg)]).toEqual([name, []]);
		const names = load();
		names.environment.host = "a-rather-long-machine-name.example.internal";
		const merged = labelSources([names, withPeers()]);
		expect(outsideViewBox(latencyChart(derive(merged).rows, merged))).toEqual([]);
	});

	test("the report adds percentiles.svg when it knows the folder with raw/", () => {
		const dir = tempDir("render");
		const results = withPeers();
		writeRaw(dir, results);
		const files = renderReport(labelSources([results], [dir])).charts.map((c) => c.file);
		expect(files).toEqual(["latency.svg", "percentiles.svg", "throughput.svg"]);
	});
});

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`svg.test.ts: browser checks skipped, ${CHROMIUM} not found`);

describe("charts in a browser", () => {
	let browser: Browser | undefined;
	beforeAll(async () => {
		if (hasChromium)
			browser = await chromium.launch({
				executablePath: CHROMIUM,
				args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
			});
	}, 60_000);
	afterAll(async () => {
		await browser?.close();
	});

	test.skipIf(!hasChromium)(
		"every element's box lies within the canvas and no two labels overlap",
		async () => {
			const page = await (browser as Browser).newPage();
			// BENCH_CHART_PNG=dir keeps a screenshot of each chart, for looking at them.
			const pngDir = process.env.BENCH_CHART_PNG;
			for (const [name, svg] of Object.entries(charts())) {
				await page.setContent(svg);
				const problems = await page.evaluate(() => {
					const root = document.querySelector("svg") as SVGSVGElement;
					const frame = root.getBoundingClientRect();
					const out: string[] = [];
					const texts: { box: DOMRect; text: string }[] = [];
					for (const el of Array.from(root.querySelectorAll("line,rect,circle,polyline,text"))) {
						const box = el.getBoundingClientRect();
						const text = el.tagName === "text" ? (el.textContent ?? "") : el.tagName;
						if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5)
							out.push(`x: ${text}`);
						if (box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5)
							out.push(`y: ${text}`);
						if (el.tagName === "text") texts.push({ box, text });
					}
					for (let i = 0; i < texts.length; i++) {
						for (let j = i + 1; j < texts.length; j++) {
							const [a, b] = [texts[i]?.box as DOMRect, texts[j]?.box as DOMRect];
							const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
							const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
							if (w > 1 && h > 1) out.push(`overlap: ${texts[i]?.text} / ${texts[j]?.text}`);
						}
					}
					return out;
				});
				expect([name, problems]).toEqual([name, []]);
				if (pngDir) {
					const size = await page.evaluate(() => {
						const r = (document.querySelector("svg") as SVGSVGElement).getBoundingClientRect();
						return { width: Math.ceil(r.width), height: Math.ceil(r.height) };
					});
					await page.setViewportSize(size);
					await page.screenshot({ path: join(pngDir, `fixture-${name}.png`) });
				}
			}
			await page.close();
		},
		60_000,
	);
});
