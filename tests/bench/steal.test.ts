import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { LoadGenerator, LoadRequest, LoadResult, Sample } from "../../bench/loadgen/types.ts";
import { DEFAULT_BODY } from "../../bench/options.ts";
import { cellPlan } from "../../bench/plan.ts";
import { derive } from "../../bench/report/derive.ts";
import { renderReport } from "../../bench/report/render.ts";
import { labelSources } from "../../bench/report/sources.ts";
import { concurrencyTable, latencyTable } from "../../bench/report/tables.ts";
import { terminalTable } from "../../bench/report/terminal.ts";
import { parseResults, type Results, readResults } from "../../bench/results.ts";
import { hostCpuOf, measureCell, measurePair } from "../../bench/runner.ts";
import {
	type MeasuredServer,
	type ServerSettings,
	type Session,
	withTarget,
} from "../../bench/session.ts";
import {
	type CpuTicks,
	cpuNumbers,
	openSteal,
	parseCpuTicks,
	readCpuTicks,
	stealPct,
} from "../../bench/steal.ts";
import { FIXTURES, tempDir } from "./helpers.ts";

/**
 * /proc/stat of a 2-vCPU VM, as the kernel writes it (the aggregate line "cpu" with two spaces),
 * then the same 3 s later: cpu0 (the pinned server's core) ran 300 ticks, 63 of them stolen
 * (21%); cpu1 200 ticks, 4 stolen. cpu1's guest and guest_nice (last two) are already in user
 * and nice and must not be counted again.
 */
const BEFORE = `cpu  3230097 15673 516595 3988506 6190 0 137455 258487 40 0
cpu0 1860115 7808 250698 1752410 3624 0 67187 127920 0 0
cpu1 1369982 7865 265897 2236096 2566 0 70268 130567 40 0
intr 218289707 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 16 0 0
ctxt 451998716
btime 1764150000
processes 1201933
procs_running 2
procs_blocked 0
softirq 91221306 3 22404417 71 1200367 0 0 1262297 33813437 0 32540714
`;
const AFTER = `cpu  3230337 15673 516675 3988619 6190 0 137455 258554 90 0
cpu0 1860275 7808 250738 1752447 3624 0 67187 127983 0 0
cpu1 1370062 7865 265937 2236172 2566 0 70268 130571 90 0
intr 218389707 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 16 0 0
ctxt 452998716
btime 1764150000
processes 1201940
procs_running 1
procs_blocked 0
softirq 91321306 3 22504417 71 1200367 0 0 1262297 33813437 0 32540714
`;

/** The sum of the first eight values of a line of BEFORE or AFTER. */
const sum8 = (line: string) =>
	line
		.trim()
		.split(/\s+/)
		.slice(1, 9)
		.reduce((s, v) => s + Number(v), 0);
const lineOf = (text: string, name: string) =>
	text.split("\n").find((l) => l.startsWith(`${name} `)) as string;

describe("/proc/stat: per-CPU ticks", () => {
	test("one CPU: its first eight values, steal the eighth", () => {
		expect(parseCpuTicks(BEFORE, "0")).toEqual({
			total: sum8(lineOf(BEFORE, "cpu0")),
			steal: 127_920,
		});
		expect(parseCpuTicks(BEFORE, "1")?.steal).toBe(130_567);
	});

	test("guest and guest_nice are not counted twice", () => {
		// cpu1's guest is 40 before, 90 after: the total does not move with it.
		const before = parseCpuTicks(BEFORE, "1") as CpuTicks;
		const after = parseCpuTicks(AFTER, "1") as CpuTicks;
		expect(after.total - before.total).toBe(200);
	});

	test("a list sums its CPUs, as a range or one by one", () => {
		const both = { total: sum8(lineOf(BEFORE, "cpu0")) + sum8(lineOf(BEFORE, "cpu1")) };
		expect(parseCpuTicks(BEFORE, "0-1")).toEqual({ ...both, steal: 127_920 + 130_567 });
		expect(parseCpuTicks(BEFORE, "0,1")).toEqual(parseCpuTicks(BEFORE, "0-1"));
		expect(cpuNumbers("0-1,4")).toEqual([0, 1, 4]);
		expect(cpuNumbers("0,0-1")).toEqual([0, 1]);
	});

	test("no list (not pinned): the aggregate line", () => {
		expect(parseCpuTicks(BEFORE)).toEqual({ total: sum8(lineOf(BEFORE, "cpu ")), steal: 258_487 });
	});

	test("a CPU without a line, a list it cannot read, a short line: null", () => {
		expect(parseCpuTicks(BEFORE, "0,2")).toBeNull();
		for (const list of ["", "a", "1-0", "0-1:2"]) expect(parseCpuTicks(BEFORE, list)).toBeNull();
		expect(parseCpuTicks("cpu0 1 2 3 4 5 6 7\n", "0")).toBeNull();
		expect(parseCpuTicks("", undefined)).toBeNull();
	});
});

describe("steal between two snapshots", () => {
	test("the server's core: 63 of 300 ticks stolen", () => {
		expect(stealPct(parseCpuTicks(BEFORE, "0"), parseCpuTicks(AFTER, "0"))).toBe(21);
		expect(stealPct(parseCpuTicks(BEFORE, "1"), parseCpuTicks(AFTER, "1"))).toBe(2);
		// Both cores: 67 of 500; the aggregate line says the same.
		expect(stealPct(parseCpuTicks(BEFORE, "0-1"), parseCpuTicks(AFTER, "0-1"))).toBeCloseTo(13.4);
		expect(stealPct(parseCpuTicks(BEFORE), parseCpuTicks(AFTER))).toBeCloseTo(13.4);
	});

	test("no tick passed, a counter went backwards, a snapshot missing: null", () => {
		const ticks = { total: 1000, steal: 10 };
		expect(stealPct(ticks, ticks)).toBeNull();
		expect(stealPct(ticks, { total: 900, steal: 10 })).toBeNull();
		expect(stealPct(ticks, { total: 1100, steal: 5 })).toBeNull();
		expect(stealPct(null, ticks)).toBeNull();
		expect(stealPct(ticks, null)).toBeNull();
		expect(stealPct(ticks, { total: 1100, steal: 10 })).toBe(0);
	});

	test("the file read: ticks where /proc/stat exists, else null", () => {
		const ticks = readCpuTicks(undefined);
		if (existsSync("/proc/stat")) {
			expect(ticks?.total).toBeGreaterThan(0);
			expect(readCpuTicks("0")?.total).toBeGreaterThan(0);
		} else expect(ticks).toBeNull();
		// No machine has CPU 100000.
		expect(readCpuTicks("100000")).toBeNull();
	});
});

describe("a steal window (what each generator opens around its measured requests)", () => {
	test("asked for: one snapshot when opened, one when closed, on the CPUs named", () => {
		const lists: (string | undefined)[] = [];
		const read = (list: string | undefined) => {
			lists.push(list);
			return { total: 300 * lists.length, steal: 63 * lists.length };
		};
		const close = openSteal({ cpuList: "0" }, read);
		expect(lists).toEqual(["0"]);
		expect(close()).toBe(21);
		expect(lists).toEqual(["0", "0"]);
		expect(openSteal({}, read)()).toBe(21);
		expect(lists.slice(2)).toEqual([undefined, undefined]);
		expect(openSteal({}, () => null)()).toBeNull();
	});

	test("not asked for: nothing read, no figure", () => {
		let reads = 0;
		const close = openSteal(undefined, () => {
			reads++;
			return null;
		});
		expect(close()).toBeUndefined();
		expect(reads).toBe(0);
	});
});

/**
 * A rotating generator that answers every request 200 after a fixed duration, logging each
 * request it is given; asked for steal, it gives back `gives` (21%), as if read over its measured
 * requests.
 */
function fakeGenerator(
	log: LoadRequest[],
	gives: Pick<LoadResult, "hostStealPct"> = { hostStealPct: 21 },
): LoadGenerator {
	return {
		info: { name: "fake", version: "0" },
		rotates: true,
		interleavesRoutes: true,
		async run(request: LoadRequest): Promise<LoadResult> {
			log.push(request);
			const n = request.requests;
			const targets = request.targets?.length ?? 0;
			const samples: Sample[] = Array.from({ length: n }, (_, i) => ({
				startUs: i * 100,
				durationUs: 50,
				status: 200,
				inferMs: null,
				...(targets > 0 ? { target: i % targets, index: i } : {}),
			}));
			return {
				samples,
				errors: 0,
				wallUs: n * 100,
				generator: this.info,
				readsServerTiming: false,
				...(request.steal === undefined ? {} : gives),
			};
		},
	};
}

async function targetSession(name: string, settings: ServerSettings) {
	return (await withTarget(name, "http://127.0.0.1:9", settings, async (s) => s)).result;
}

function runSettings(log: LoadRequest[], gives?: Pick<LoadResult, "hostStealPct">) {
	const outDir = tempDir("steal");
	mkdirSync(join(outDir, "raw"));
	return {
		root: outDir,
		outDir,
		generator: fakeGenerator(log, gives),
		warmup: 0,
		body: DEFAULT_BODY,
		readyTimeoutMs: 1000,
		port: null,
		pinning: {},
		progress: () => {},
		requests: 4,
	};
}

describe("the runner records the generator's steal on each cell", () => {
	test("asked on the server's pinned cores, every CPU unpinned, not at all for a target", () => {
		expect(hostCpuOf({ program: "node" }, "0")).toEqual({ cpuList: "0" });
		expect(hostCpuOf({ program: "fastapi" }, undefined)).toEqual({});
		expect(hostCpuOf({ origin: "http://127.0.0.1:9" }, "0")).toBeNull();
	});

	test("a cell: the generator is asked for the server's cores, and its figure is recorded", async () => {
		const log: LoadRequest[] = [];
		const settings = runSettings(log);
		const session: Session<MeasuredServer> = await targetSession("node", settings);
		const cell = await measureCell(session, 1, cellPlan("floor", 1), settings, {
			beside: false,
			steal: { cpuList: "0" },
		});
		expect(log.map((r) => r.steal)).toEqual([{ cpuList: "0" }]);
		expect(cell.hostStealPct).toBe(21);
		expect(cell.stats.count).toBe(4);
	});

	test("unreadable (no /proc/stat) or not given: null; not asked (a target): no field", async () => {
		const plan = cellPlan("floor", 1);
		for (const gives of [{ hostStealPct: null }, {}]) {
			const settings = runSettings([], gives);
			const session = await targetSession("node", settings);
			const cell = await measureCell(session, 1, plan, settings, { beside: false, steal: {} });
			expect(cell.hostStealPct).toBeNull();
		}
		const log: LoadRequest[] = [];
		const settings = runSettings(log);
		const session = await targetSession("node", settings);
		const target = await measureCell(session, 2, plan, settings, { beside: false, steal: null });
		expect("steal" in (log[0] as LoadRequest)).toBe(false);
		expect("hostStealPct" in target).toBe(false);
	});

	test("a pair: one run asked for steal, both servers' cells get its one figure", async () => {
		const log: LoadRequest[] = [];
		const settings = runSettings(log);
		const [a, b] = [await targetSession("node", settings), await targetSession("node", settings)];
		const { cells } = await measurePair(
			a as Session<MeasuredServer>,
			b as Session<MeasuredServer>,
			1,
			cellPlan("floor", 1),
			settings,
			{ cpuList: "0" },
		);
		expect(log.map((r) => r.steal)).toEqual([{ cpuList: "0" }]);
		expect(cells.map((c) => c.hostStealPct)).toEqual([21, 21]);
		expect(cells.map((c) => c.stats.count)).toEqual([4, 4]);
	});
});

const load = (): Results => readResults(join(FIXTURES, "results.json"));

/** Per runtime and round, the steal each cell of the fixture gets. */
const STEAL: Record<string, (number | null)[]> = {
	node: [0.3, 21, 2],
	bun: [0, null, 1],
};

function withSteal(pinned = false): Results {
	const results = load();
	for (const cell of results.cells) {
		cell.hostStealPct = STEAL[cell.runtime]?.[cell.round - 1] ?? null;
	}
	if (pinned) {
		results.environment.pinning = {
			pinned: true,
			note: "server on core 0, load generator on core 1",
		};
	}
	return results;
}

const column = (table: { headers: string[]; rows: string[][] }, header: string) =>
	table.rows.map((r) => `${r[0]}/${r[1]}: ${r[table.headers.indexOf(header)]}`);

describe("results.json: hostStealPct", () => {
	test("a percentage or null; files without it read as before", () => {
		const json = JSON.parse(JSON.stringify(withSteal()));
		expect(parseResults(JSON.stringify(json)).cells[0]?.hostStealPct).toBe(0.3);
		expect(load().cells.some((c) => "hostStealPct" in c)).toBe(false);
		json.cells[0].hostStealPct = 101;
		expect(() => parseResults(JSON.stringify(json))).toThrow(/at cells\.0\.hostStealPct/);
	});
});

describe("the report: steal % where the figures are", () => {
	test("latency tables: after gen CPU %, the median over the rounds and their range", () => {
		const sources = labelSources([withSteal()]);
		for (const by of ["runtime", "model"] as const) {
			const table = latencyTable(derive(sources).rows, sources, by);
			expect(table.headers.slice(-3)).toEqual(["gen CPU %", "steal %", "steal range %"]);
		}
		const table = latencyTable(derive(sources).rows, sources, "runtime");
		expect(column(table, "steal %")).toEqual([
			"node/mlp-onnx: 2.0",
			"node/floor: 2.0",
			// Round 2 unrecorded: the median of the other two.
			"bun/mlp-onnx: 0.5",
			"bun/floor: 0.5",
		]);
		expect(column(table, "steal range %")[0]).toBe("node/mlp-onnx: 0.3–21.0");
		const note = table.notes.find((n) => n.startsWith('"steal %"')) ?? "";
		expect(note).toContain("host CPU steal");
		expect(note).toContain("all of the machine's CPUs (the server was not pinned)");
		expect(note).toContain("In these cells: 0.0–21.0%.");
		expect(note).toContain("measured the host as much as the runtime");
	});

	test("pinned: the note names the server's cores; the sweep has the column too", () => {
		const sources = labelSources([withSteal(true)]);
		const { rows } = derive(sources);
		const note = latencyTable(rows, sources, "runtime").notes.join(" ");
		expect(note).toContain("the server's cores (server on core 0, load generator on core 1)");
		const sweep = concurrencyTable(rows, sources);
		expect(sweep?.headers).toContain("steal %");
		expect(renderReport(sources).markdown).toContain("| steal % | steal range % |");
	});

	test("one round: the figure alone, no range column", () => {
		const results = withSteal();
		results.cells = results.cells.filter((c) => c.round === 2);
		const sources = labelSources([results]);
		const table = latencyTable(derive(sources).rows, sources, "runtime");
		expect(table.headers.slice(-2)).toEqual(["gen CPU %", "steal %"]);
		expect(column(table, "steal %")).toEqual([
			"node/mlp-onnx: 21.0",
			"node/floor: 21.0",
			"bun/mlp-onnx: -",
			"bun/floor: -",
		]);
		expect(table.notes.join(" ")).toContain("In these cells: 21.0%.");
	});

	test("merged with an older run: its rows read '-'", () => {
		const sources = labelSources([withSteal(), load()]);
		const table = latencyTable(derive(sources).rows, sources, "runtime");
		const col = table.headers.indexOf("steal %");
		const old = table.rows.filter((r) => r[0] === "fixture-host #2").map((r) => r[col]);
		expect(old).toEqual(["-", "-", "-", "-"]);
	});

	test("a file without it, or with none recorded (no /proc), renders as it always did", () => {
		const old = renderReport(labelSources([load()]));
		expect(old.markdown).not.toContain("steal");
		const unread = load();
		for (const cell of unread.cells) cell.hostStealPct = null;
		const rendered = renderReport(labelSources([unread]));
		expect(rendered.markdown).toBe(old.markdown);
		const text = (r: typeof old) => r.tables.map(terminalTable).join("\n\n");
		expect(text(rendered)).toBe(text(old));
	});
});
