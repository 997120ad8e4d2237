import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import { sendAfterWarmup } from "../../bench/loadgen/types.ts";
import { parseOptions } from "../../bench/options.ts";
import { buildPlan } from "../../bench/plan.ts";
import { derive } from "../../bench/report/derive.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { stagesTable } from "../../bench/report/tables.ts";
import { terminalTable } from "../../bench/report/terminal.ts";
import {
	type Cell,
	FLOOR,
	FLOOR_POST,
	parseResults,
	type Results,
	readResults,
	STAGES,
	type StageTimes,
	writeResults,
} from "../../bench/results.ts";
import { checkStages, clearStages, readStages, STAGES_PATH } from "../../bench/stages.ts";
import * as service from "../../src/api/stages.ts";
import { FIXTURES, ROOT, runCli, tempDir, usageError } from "./helpers.ts";

/** --stages: options, plan, the stage routes' client, results, derivation and the table. */

describe("--stages options and plan", () => {
	test("off by default; a timed twin after each of our runtimes' servers, peers and targets beside them", () => {
		expect(parseOptions([]).stages).toBe(false);
		const options = parseOptions([
			"--stages",
			"--runtimes",
			"node,bun",
			"--models",
			"mlp-ts,floor",
			"--peers",
			"fastapi",
			"--target",
			"mine=http://127.0.0.1:8000/predict/mlp",
		]);
		expect(options.stages).toBe(true);
		const plan = buildPlan({ ...options, rounds: 1 });
		// Each runtime's untimed server (every cell), then its timed one (the model cells only).
		expect(plan.map((s) => [s.runtime, s.stages ?? false, s.cells.map((c) => c.model)])).toEqual([
			["node", false, ["mlp-ts", "floor"]],
			["node", true, ["mlp-ts"]],
			["bun", false, ["mlp-ts", "floor"]],
			["bun", true, ["mlp-ts"]],
			["fastapi", false, ["mlp", "floor"]],
			["mine", false, ["/predict/mlp"]],
		]);
		// Measured beside floor-post: ours and the peers (they answer it), not a target.
		expect(plan.map((s) => s.beside ?? false)).toEqual([true, true, true, true, true, false]);
		const plain = buildPlan({ ...parseOptions(["--peers", "node-bare"]), rounds: 1 });
		expect(plain.some((s) => s.stages || s.beside)).toBe(false);
	});

	for (const [argv, message] of [
		[["--soak", "60s"], "--stages times the cells of a normal run: it takes no --soak"],
		[["--soak", "5s"], "--stages times the cells of a normal run: it takes no --soak"],
		[["--metrics", "on,off"], "--stages reads one server per cell: it takes one --metrics value"],
		[
			["--workers", "1,2"],
			"--stages reads one server process's timers: it takes no --workers but 1",
		],
		[["--workers", "2"], "--stages reads one server process's timers"],
		[
			["--models", "floor,floor-post"],
			"--stages times predictions: --models needs one of mlp-onnx",
		],
	] as const) {
		test(`rejects --stages ${argv.join(" ")}`, () => {
			expect(usageError(["--stages", ...argv])).toContain(message);
		});
	}

	test("the bench's stage names and route are the service's", () => {
		expect([...STAGES]).toEqual([...service.STAGES]);
		expect(STAGES_PATH).toBe(service.STAGES_PATH);
	});
});

/** A stand-in for a STAGES=1 server: logs every request, answers GET /bench/stages with `answer`. */
describe("the stage routes' client and the generators' call after the warm-up", () => {
	let server: Server;
	let base = "";
	const log: string[] = [];
	let answer: { status: number; body: unknown } = { status: 404, body: {} };

	beforeAll(async () => {
		server = createServer((req, res) => {
			log.push(`${req.method} ${req.url}`);
			req.resume();
			req.on("end", () => {
				if (req.url === STAGES_PATH && req.method === "DELETE") {
					res.writeHead(204).end();
				} else if (req.url === STAGES_PATH) {
					const text = JSON.stringify(answer.body);
					res.writeHead(answer.status, { "content-length": Buffer.byteLength(text) }).end(text);
				} else {
					res.writeHead(200, { "content-length": 2 }).end("{}");
				}
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(() => {
		server.close();
	});

	const timed = () => ({ name: "bun", server: { baseUrl: base } });
	const p50 = Object.fromEntries(STAGES.map((s, i) => [s, i + 0.5])) as StageTimes;

	test("a server without the routes (404) stops the bench with one line", async () => {
		answer = { status: 404, body: { error: "not found" } };
		await expect(checkStages(timed())).rejects.toThrow(
			"bun answered 404 to GET /bench/stages: it has no stage timers (a server from before STAGES=1); run without --stages",
		);
	});

	test("reads one model's count and p50s; null for a model it timed none of", async () => {
		const mean = p50;
		answer = {
			status: 200,
			body: { unit: "us", stages: STAGES, models: { "mlp-ts": { count: 7, p50, mean } } },
		};
		await checkStages(timed());
		expect(await readStages(timed(), "mlp-ts")).toEqual({ count: 7, p50Us: p50 });
		expect(await readStages(timed(), "gbdt-ts")).toBeNull();
	});

	test("an answer with other stages, or none, is refused by name", async () => {
		answer = { status: 200, body: { unit: "us", stages: ["route", "all"], models: {} } };
		await expect(checkStages(timed())).rejects.toThrow(
			`bun: GET /bench/stages answered no summary of the stages ${STAGES.join(",")}`,
		);
		answer = { status: 500, body: {} };
		await expect(checkStages(timed())).rejects.toThrow("bun answered 500 to GET /bench/stages");
	});

	test("the call after the warm-up must answer 2xx", async () => {
		await sendAfterWarmup(clearStages(timed()));
		expect(log.at(-1)).toBe(`DELETE ${STAGES_PATH}`);
		answer = { status: 500, body: {} };
		await expect(sendAfterWarmup({ method: "GET", url: `${base}${STAGES_PATH}` })).rejects.toThrow(
			`GET ${base}${STAGES_PATH} after the warm-up answered 500`,
		);
	});

	test("the built-in generator sends it between the warm-up and the measured requests", async () => {
		const generator = await BuiltinGenerator.create(
			join(ROOT, "node_modules", ".bin", "node"),
			"0.0.0-test",
		);
		log.length = 0;
		const result = await generator.run({
			url: `${base}/predict/mlp-ts`,
			method: "POST",
			body: "{}",
			contentType: "application/json",
			requests: 4,
			concurrency: 2,
			warmup: 3,
			afterWarmup: clearStages(timed()),
		});
		expect(result.samples).toHaveLength(4);
		const posts = (n: number) => Array.from({ length: n }, () => "POST /predict/mlp-ts");
		expect(log).toEqual([...posts(3), `DELETE ${STAGES_PATH}`, ...posts(4)]);
	});
});

/** Stage p50s per round (µs), each stage's median from a different round where it can be. */
const ROUND_STAGES: StageTimes[] = [
	{ route: 1, read: 5, parse: 2, validate: 4, encode: 1, infer: 30, serialise: 2, respond: 5 },
	{ route: 2, read: 4, parse: 2, validate: 3, encode: 1, infer: 20, serialise: 3, respond: 5 },
	{ route: 3, read: 6, parse: 2, validate: 5, encode: 1, infer: 25, serialise: 1, respond: 5 },
];
/** Client p50s per round (ms) of node's c=1 cells: medians 0.050, 0.065 and 0.180. */
const ROUND_P50: Record<string, number[]> = {
	[FLOOR]: [0.05, 0.04, 0.06],
	[FLOOR_POST]: [0.06, 0.07, 0.065],
	"mlp-onnx": [0.2, 0.15, 0.18],
};

/**
 * The fixture (node and bun, mlp-onnx and floor, c=1 and 8, 3 rounds) run with --stages: its
 * floor cells copied as floor-post cells, node's c=1 cells given ROUND_P50, and every mlp-onnx
 * cell ROUND_STAGES (bun's too, whose p50s stay the fixture's).
 */
function staged(): Results {
	const results = readResults(join(FIXTURES, "results.json"));
	const posts = results.cells
		.filter((c) => c.model === FLOOR)
		.map((c): Cell => ({ ...c, model: FLOOR_POST }));
	results.cells = [...results.cells, ...posts].map((cell) => {
		const p50 = ROUND_P50[cell.model]?.[cell.round - 1];
		const ours = cell.runtime === "node" && cell.concurrency === 1 && p50 !== undefined;
		const stats = ours ? { ...cell.stats, p50Ms: p50 } : cell.stats;
		const p50Us = ROUND_STAGES[cell.round - 1] as StageTimes;
		return cell.model === "mlp-onnx"
			? { ...cell, stats, stages: { count: 1000, p50Us } }
			: { ...cell, stats };
	});
	results.options = {
		...results.options,
		models: [...results.options.models, FLOOR_POST],
		stages: true,
	};
	return results;
}

const breakdowns = (results: Results) => derive(labelSources([results])).stages;
const table = (results: Results) => {
	const sources = labelSources([results]);
	const made = stagesTable(derive(sources).stages, sources);
	if (!made) throw new Error("no stages table");
	return made;
};
const column = (t: ReturnType<typeof table>, row: string[], header: string) =>
	row[t.headers.indexOf(header)];

describe("stage breakdown: derived once from the rounds", () => {
	test("medians over the rounds per stage; floors, our code, own cost and residual from them", () => {
		const node = breakdowns(staged()).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node?.stagesUs).toEqual({
			route: 2,
			read: 5,
			parse: 2,
			validate: 4,
			encode: 1,
			infer: 25,
			serialise: 2,
			respond: 5,
		});
		expect(node?.bareGetUs).toBeCloseTo(50, 9);
		expect(node?.bodyReceiptUs).toBeCloseTo(15, 9);
		expect(node?.ourCodeUs).toBe(2 + 4 + 1 + 2 + 5);
		expect(node?.predictionUs).toBeCloseTo(180, 9);
		// 180 − 65 − 25, and that minus our code's 14.
		expect(node?.ownCostUs).toBeCloseTo(90, 9);
		expect(node?.residualUs).toBeCloseTo(76, 9);
	});

	test("one breakdown per timed row: the floors have none, nor do runs without --stages", () => {
		const all = breakdowns(staged());
		expect(all.map((b) => `${b.runtime} ${b.model} c${b.concurrency}`).sort()).toEqual([
			"bun mlp-onnx c1",
			"bun mlp-onnx c8",
			"node mlp-onnx c1",
			"node mlp-onnx c8",
		]);
		expect(breakdowns(readResults(join(FIXTURES, "results.json")))).toEqual([]);
		const sources = labelSources([readResults(join(FIXTURES, "results.json"))]);
		expect(stagesTable(derive(sources).stages, sources)).toBeNull();
	});

	test("without floor-post: its columns are '-', the rest still shown", () => {
		const results = staged();
		results.cells = results.cells.filter((c) => c.model !== FLOOR_POST);
		const node = breakdowns(results).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node).toMatchObject({ bodyReceiptUs: null, ownCostUs: null, residualUs: null });
		expect(node?.bareGetUs).toBeCloseTo(50, 9);
		const t = table(results);
		const row = t.rows.find((r) => r[0] === "node" && r[2] === "1") as string[];
		expect(column(t, row, "body receipt µs")).toBe("-");
		expect(column(t, row, "own cost µs")).toBe("-");
		expect(column(t, row, "floor µs")).toBe("50.0");
		expect(t.notes.join(" ")).toContain('"-": the run had no floor or floor-post cell');
	});
});

/** Per round (µs), the floor-post p50 measured beside node's c=1 predictions: median 68. */
const ROUND_BESIDE = [70, 60, 68];

/** staged(), with node's c=1 mlp-onnx cells measured beside floor-post (the interleaved run). */
function besideStaged(rounds: readonly number[] = ROUND_BESIDE): Results {
	const results = staged();
	results.cells = results.cells.map((cell): Cell => {
		const floorPostBesideP50Us = rounds[cell.round - 1];
		const beside = cell.runtime === "node" && cell.concurrency === 1 && cell.stages;
		return beside && floorPostBesideP50Us !== undefined ? { ...cell, floorPostBesideP50Us } : cell;
	});
	return results;
}

/**
 * besideStaged() as a run with timed servers makes it: every staged cell split into the untimed
 * server's (no stages) and the timed server's (its stages; p50 5 µs and floor-post beside 1 µs
 * higher), and a timed process for each untimed one.
 */
function withTimedServers(): Results {
	const results = besideStaged();
	results.cells = results.cells.flatMap((cell): Cell[] => {
		if (!cell.stages) return [cell];
		const { stages, ...rest } = cell;
		// As with h2load: a side sample, not the model calls of the measured requests.
		const untimed: Cell = { ...rest, infer: { ...cell.infer, source: "sample" } };
		const beside = cell.floorPostBesideP50Us;
		const timed: Cell = {
			...cell,
			timed: true,
			stats: { ...cell.stats, p50Ms: (cell.stats.p50Ms ?? 0) + 0.005 },
			...(beside === undefined ? {} : { floorPostBesideP50Us: beside + 1 }),
		};
		return [untimed, timed];
	});
	results.processes = results.processes.flatMap((p) => [
		p,
		{ ...p, peakRssKiB: (p.peakRssKiB ?? 0) * 10, timed: true as const },
	]);
	return results;
}

describe("timed servers (--stages): stages from the timed server, the rest from the untimed", () => {
	const sources = () => labelSources([withTimedServers()]);

	test("own cost is the untimed server's; timers is the timed one's own cost over it", () => {
		const all = breakdowns(withTimedServers());
		const node = all.find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node?.stagesUs.infer).toBe(25);
		expect(node?.predictionUs).toBeCloseTo(180, 9);
		expect(node).toMatchObject({ floorPostUs: 68, floorPostSource: "beside" });
		// 180 − 68 − 25; the timed server's 185 − 69 − 25 is 4 more.
		expect(node?.ownCostUs).toBeCloseTo(87, 9);
		expect(node?.timersUs).toBeCloseTo(4, 9);
		// Bun's cells have no floor-post beside them: no timers figure.
		expect(all.filter((b) => b.runtime === "bun").map((b) => b.timersUs)).toEqual([null, null]);
		expect(all).toHaveLength(4);
	});

	test("the latency rows and the startup table are the untimed servers' alone", () => {
		const derived = derive(sources());
		const plain = derive(labelSources([besideStaged()]));
		const p50s = (rows: typeof derived.rows) => rows.map((r) => [r.runtime, r.model, r.p50Ms]);
		expect(p50s(derived.rows)).toEqual(p50s(plain.rows));
		expect(derived.servers).toEqual(plain.servers);
	});

	test("the table adds a timers column after own cost and says where each figure comes from", () => {
		const t = stagesTable(derive(sources()).stages, sources());
		expect(t?.headers.slice(-4)).toEqual([
			"floor-post from",
			"own cost µs",
			"timers µs",
			"x floor",
		]);
		const node = t?.rows.find((r) => r[0] === "node" && r[2] === "1") as string[];
		expect(node.slice(-3)).toEqual(["87.0", "4.0", "3.60"]);
		expect(t?.notes.join(" ")).toContain("Each runtime ran two servers, one after the other");
		expect(table(besideStaged()).headers).not.toContain("timers µs");
		expect(table(besideStaged()).notes.join(" ")).toContain(
			"The stage timers add about nine performance.now() calls",
		);
	});

	test("the untimed server's own model calls, where it kept them, are what own cost subtracts", () => {
		const results = withTimedServers();
		// Node's c=1 untimed cells: the server kept 18, 20 and 22 µs over the rounds' requests.
		results.cells = results.cells.map((cell): Cell => {
			const ours = cell.runtime === "node" && cell.concurrency === 1 && !cell.timed;
			if (!ours || cell.model !== "mlp-onnx") return cell;
			const medianMs = [0.018, 0.02, 0.022][cell.round - 1] ?? 0;
			return { ...cell, infer: { medianMs, count: 1000, source: "server" } };
		});
		const node = breakdowns(results).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node).toMatchObject({ modelCallSource: "requests" });
		expect(node?.modelCallUs).toBeCloseTo(20, 9);
		// 180 − 68 − 20; the twin's own cost (185 − 69 − 25) is 1 below it.
		expect(node?.ownCostUs).toBeCloseTo(92, 9);
		expect(node?.timersUs).toBeCloseTo(-1, 9);
		const sources = labelSources([results]);
		const t = stagesTable(derive(sources).stages, sources);
		expect(t?.headers.slice(-5)).toEqual([
			"floor-post from",
			"model call µs",
			"own cost µs",
			"timers µs",
			"x floor",
		]);
		const row = t?.rows.find((r) => r[0] === "node" && r[2] === "1") as string[];
		expect(row.slice(-4, -2)).toEqual(["20.0", "92.0"]);
		// Bun's rows kept none: their model call is the stage timers' infer, as the note says.
		const bun = t?.rows.find((r) => r[0] === "bun" && r[2] === "1") as string[];
		expect(bun.at(-4)).toBe("25.0");
		expect(t?.notes.join(" ")).toContain("Rows without it (METRICS=off with a generator");
		expect(table(withTimedServers()).headers).not.toContain("model call µs");
	});

	test("or, with METRICS=off, the Server-Timing the generator read from each of those requests", () => {
		const results = withTimedServers();
		results.cells = results.cells.map((cell): Cell => {
			const ours = cell.runtime === "node" && cell.concurrency === 1 && !cell.timed;
			if (!ours || cell.model !== "mlp-onnx") return cell;
			return { ...cell, infer: { medianMs: 0.02, count: 1000, source: "loadgen" } };
		});
		const node = breakdowns(results).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node).toMatchObject({ modelCallSource: "requests", modelCallUs: 20 });
		expect(node?.ownCostUs).toBeCloseTo(92, 9);
		// A row that timed itself (before the twin) keeps its own timers' infer.
		const old = breakdowns(besideStaged()).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(old).toMatchObject({ modelCallSource: "stages", modelCallUs: 25 });
	});

	test("a merge of a run with twins and one from before them says which run is which", () => {
		const merged = labelSources([withTimedServers(), besideStaged()]);
		const [twin, single] = merged.map((source) => source.label);
		const notes = stagesTable(derive(merged).stages, merged)?.notes ?? [];
		expect(notes.find((n) => n.startsWith(`${twin}: Each runtime ran two servers`))).toBeDefined();
		expect(
			notes.find((n) => n.startsWith(`${single}: one timed server, from before the twin.`)),
		).toContain("which its p50 includes");
	});

	test("the timed server's steal is the last column, where some cell recorded it", () => {
		const results = withTimedServers();
		// Each round's timed cell 1, 9 and 3%; the untimed ones 50% (the latency tables' figure).
		results.cells = results.cells.map((cell): Cell => {
			const hostStealPct = cell.timed ? ([1, 9, 3][cell.round - 1] ?? null) : 50;
			return cell.runtime === "node" ? { ...cell, hostStealPct } : cell;
		});
		const node = breakdowns(results).find((b) => b.runtime === "node" && b.concurrency === 1);
		expect(node?.timedStealPct).toBe(3);
		const t = table(results);
		expect(t.headers.at(-1)).toBe("timed steal %");
		expect(t.rows.map((r) => `${r[0]} c${r[2]}: ${r.at(-1)}`)).toEqual([
			"node c1: 3.0",
			"node c8: 3.0",
			"bun c1: -",
			"bun c8: -",
		]);
		const note = t.notes.find((n) => n.startsWith('"timed steal %"')) ?? "";
		expect(note).toContain('which its stage columns and "timers" come from');
		// None recorded (older files, no /proc/stat): no column, no note, as before.
		const none = withTimedServers();
		for (const cell of none.cells) cell.hostStealPct = null;
		expect(table(none)).toEqual(table(withTimedServers()));
	});
});

describe("own cost: the floor-post measured beside the prediction, else the floor-post cell", () => {
	const nodeC1 = (results: Results) =>
		breakdowns(results).find((b) => b.runtime === "node" && b.concurrency === 1);

	test("a row whose rounds have the interleaved figure uses its median, not the cell's", () => {
		const node = nodeC1(besideStaged());
		expect(node).toMatchObject({ floorPostUs: 68, floorPostSource: "beside" });
		// 180 − 68 − 25, and that minus our code's 14; body receipt stays the cells' 65 − 50.
		expect(node?.ownCostUs).toBeCloseTo(87, 9);
		expect(node?.residualUs).toBeCloseTo(73, 9);
		expect(node?.bodyReceiptUs).toBeCloseTo(15, 9);
		const other = breakdowns(besideStaged()).filter((b) => b.runtime === "bun");
		expect(other.every((b) => b.floorPostSource === "cell")).toBe(true);
	});

	test("a round without it: the row falls back to the cell, so both p50s cover the same rounds", () => {
		const results = besideStaged();
		results.cells = results.cells.map((c) => {
			const { floorPostBesideP50Us: _, ...without } = c;
			return c.runtime === "node" && c.round === 2 ? without : c;
		});
		expect(nodeC1(results)).toMatchObject({ floorPostUs: 65, floorPostSource: "cell" });
		expect(nodeC1(results)?.ownCostUs).toBeCloseTo(90, 9);
	});

	test("results from before it (no field) render as before, the note naming the source", () => {
		const t = table(staged());
		expect(t.headers).not.toContain("floor-post from");
		expect(column(t, t.rows[0] as string[], "floor-post µs")).toBe("65.0");
		expect(t.notes.join(" ")).toContain(
			'"floor-post" is the floor-post p50 own cost subtracts: the floor-post cell\'s p50, measured in runs of its own at other moments (results from before floor-post was measured beside the prediction; above concurrency 1 it is not measured beside)',
		);
	});

	test("mixed sources: a 'floor-post from' column says which each row used", () => {
		const t = table(besideStaged());
		expect(t.headers.slice(-5)).toEqual([
			"prediction p50 µs",
			"floor-post µs",
			"floor-post from",
			"own cost µs",
			"x floor",
		]);
		const row = (runtime: string, c: string) =>
			t.rows.find((r) => r[0] === runtime && r[2] === c) as string[];
		expect(row("node", "1").slice(-5)).toEqual(["180.0", "68.0", "beside", "87.0", "3.60"]);
		expect(column(t, row("node", "8"), "floor-post from")).toBe("cell");
		expect(t.notes.join(" ")).toContain('"beside", not the latency table');
	});

	test("every row beside: no source column, the note says how it was measured", () => {
		const results = besideStaged();
		results.cells = results.cells.filter((c) => c.runtime === "node" && c.concurrency === 1);
		const t = table(results);
		expect(t.headers).not.toContain("floor-post from");
		expect(t.notes.join(" ")).toContain(
			`"floor-post" is the floor-post p50 own cost subtracts: not the latency table's floor-post cell (its 'p50 over floor-post' subtracts that one) but the one measured beside the prediction: each round, the cell's one generator run sent POST /bench/floor-post (the same body) and the prediction one at a time on one connection in blocks of up to 100`,
		);
		expect(renderReport(labelSources([results])).markdown).toContain(
			"| node | mlp-onnx | 50.0 | 15.0 |",
		);
	});

	test("measured with oha: the note says it cannot send the two in blocks", () => {
		const results = staged();
		const oha = { name: "oha", version: "1.9.0" };
		results.cells = results.cells.map((c) => ({ ...c, generator: oha }));
		expect(table(results).notes.join(" ")).toContain(
			"oha sends one URL per run, so it cannot send the two in blocks",
		);
	});

	test("results.json keeps the interleaved figure; files without it still read", () => {
		const dir = tempDir("stages-beside");
		writeResults(join(dir, "results.json"), besideStaged());
		expect(readResults(join(dir, "results.json"))).toEqual(besideStaged());
		const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
		const at = json.cells.findIndex((c: Cell) => c.floorPostBesideP50Us !== undefined);
		json.cells[at].floorPostBesideP50Us = -1;
		expect(() => parseResults(JSON.stringify(json))).toThrow(`at cells.${at}.floorPostBesideP50Us`);
	});
});

describe("the stages table", () => {
	test("the issue's columns in order, one row per runtime, model and concurrency", () => {
		const t = table(staged());
		expect(t.title).toBe("Where a prediction's time goes (p50, µs)");
		expect(t.headers).toEqual([
			"runtime",
			"model",
			"concurrency",
			"floor µs",
			"body receipt µs",
			"route µs",
			"read µs",
			"parse µs",
			"validate µs",
			"encode µs",
			"infer (in-process) µs",
			"serialise µs",
			"respond µs",
			"our code µs",
			"residual µs",
			"prediction p50 µs",
			"floor-post µs",
			"own cost µs",
			"x floor",
		]);
		expect(t.rows[0]).toEqual([
			"node",
			"mlp-onnx",
			"1",
			"50.0",
			"15.0",
			"2.0",
			"5.0",
			"2.0",
			"4.0",
			"1.0",
			"25.0",
			"2.0",
			"5.0",
			"14.0",
			"76.0",
			"180.0",
			"65.0",
			"90.0",
			"3.60",
		]);
		expect(t.rows.map((r) => `${r[0]} c${r[2]}`)).toEqual([
			"node c1",
			"node c8",
			"bun c1",
			"bun c8",
		]);
		expect(t.notes.join(" ")).toContain("A sum of p50s is not the p50 of the sum");
	});

	test("with a bare peer measured beside its floor-post: its figure and ours over it", () => {
		const results = besideStaged();
		const nodeBare = results.cells
			.filter((c) => c.runtime === "node" && c.model === "mlp-onnx" && c.concurrency === 1)
			.map((c): Cell => {
				const { stages: _, ...plain } = c;
				const stats = { ...c.stats, p50Ms: 0.15 };
				return { ...plain, runtime: "node-bare", stats, floorPostBesideP50Us: 60 };
			});
		results.cells = [...results.cells, ...nodeBare];
		const t = table(results);
		expect(t.headers.slice(-2)).toEqual(["bare peer over floor-post µs", "ours over bare peer µs"]);
		const row = (runtime: string, c: string) =>
			t.rows.find((r) => r[0] === runtime && r[2] === c) as string[];
		// Ours: 180 − 68 (beside) = 112; the bare peer: 150 − 60 = 90; ours over it: 22.
		expect(row("node", "1").slice(-2)).toEqual(["90.0", "22.0"]);
		// No bare peer cell at concurrency 8, nor for bun: "-".
		expect(row("node", "8").slice(-2)).toEqual(["-", "-"]);
		expect(row("bun", "1").slice(-2)).toEqual(["-", "-"]);
		expect(t.notes.join(" ")).toContain("what Hono, validation and our handler add");
		// A bare peer without its floor-post beside it gives no figure: no columns at all.
		results.cells = results.cells.map((c) => {
			const { floorPostBesideP50Us: _, ...rest } = c;
			return c.runtime === "node-bare" ? rest : c;
		});
		expect(table(results).headers).not.toContain("bare peer over floor-post µs");
		expect(table(staged()).headers).not.toContain("bare peer over floor-post µs");
	});

	test("a negative residual prints as a number, right-aligned", () => {
		const results = staged();
		results.cells = results.cells.map((c) =>
			c.stages ? { ...c, stages: { ...c.stages, p50Us: { ...c.stages.p50Us, respond: 100 } } } : c,
		);
		const t = table(results);
		expect(column(t, t.rows[0] as string[], "residual µs")).toBe("-19.0");
		const line = terminalTable(t).split("\n")[3] as string;
		expect(line).toMatch(/ -19\.0 +180\.0 +65\.0 +90\.0 +3\.60$/);
	});

	test("in the report right after the latency tables, and in report.md with the run's setting", () => {
		const rendered = renderReport(labelSources([staged()]));
		expect(rendered.tables.map((t) => t.title).slice(0, 3)).toEqual([
			"By runtime",
			"By model",
			"Where a prediction's time goes (p50, µs)",
		]);
		expect(rendered.markdown).toContain("### Where a prediction's time goes (p50, µs)");
		expect(rendered.markdown).toContain("| node | mlp-onnx | 1 | 50.0 | 15.0 |");
		expect(rendered.markdown).toContain("- Stages (STAGES=1): ");
	});

	test("results.json keeps the stage figures; a cell missing a stage is refused", () => {
		const dir = tempDir("stages");
		writeResults(join(dir, "results.json"), staged());
		expect(readResults(join(dir, "results.json"))).toEqual(staged());
		const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
		const at = json.cells.findIndex((c: Cell) => c.stages !== undefined);
		delete json.cells[at].stages.p50Us.respond;
		expect(() => parseResults(JSON.stringify(json))).toThrow(`at cells.${at}.stages.p50Us.respond`);
	});

	test("npm run bench:report re-renders it from a saved results.json", async () => {
		const dir = tempDir("stages-report");
		mkdirSync(join(dir, "raw"));
		writeResults(join(dir, "results.json"), staged());
		const result = await runCli("bench/report.ts", [dir]);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Where a prediction's time goes (p50, µs)");
		expect(result.stdout).toMatch(/^node\s+mlp-onnx\s+1\s+50\.0\s+15\.0\s/m);
		expect(readFileSync(join(dir, "report.md"), "utf8")).toContain(
			"### Where a prediction's time goes (p50, µs)",
		);
	});
});
