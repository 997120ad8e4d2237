import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { MODELS, parseOptions, UsageError } from "../../bench/options.ts";
import { peerCells, peerSkips } from "../../bench/peers.ts";
import { buildPlan, FLOOR_POST_PATH } from "../../bench/plan.ts";
import { modelOrder, outsideNotes, runtimeOrder } from "../../bench/report/sources.ts";
import { FLOOR, FLOOR_POST, parseResults, type Results } from "../../bench/results.ts";
import { freePort } from "../../bench/runtimes.ts";
import { checkTarget, TargetError } from "../../bench/targets.ts";
import { FIXTURES } from "./helpers.ts";

/** Peers (--peers) and outside servers (--target): options, plan, the target pre-check, the report's order. */

const URL_OK = "http://127.0.0.1:8000/predict/mlp-ts";

describe("--peers and --target options", () => {
	test("none by default", () => {
		const o = parseOptions([]);
		expect(o.peers).toEqual([]);
		expect(o.targets).toEqual([]);
	});

	test("a peer and two targets, in the order given", () => {
		const o = parseOptions([
			"--peers",
			"fastapi",
			"--target",
			`other=${URL_OK}`,
			"--target",
			"py_2=https://example.com:8443/predict?x=1",
		]);
		expect(o.peers).toEqual(["fastapi"]);
		expect(o.targets).toEqual([
			{ name: "other", url: URL_OK },
			{ name: "py_2", url: "https://example.com:8443/predict?x=1" },
		]);
	});

	const bad: [string[], string][] = [
		[["--peers", "flask"], 'unknown peer "flask"'],
		[["--peers", "fastapi,fastapi"], "lists a value twice"],
		[["--target", "other"], "--target takes NAME=URL"],
		[["--target", `=${URL_OK}`], 'name ""'],
		[["--target", `1st=${URL_OK}`], "must start with a letter"],
		[["--target", `a b=${URL_OK}`], "must start with a letter"],
		[["--target", `bun=${URL_OK}`], '"bun" is already the name'],
		[["--target", `fastapi=${URL_OK}`], '"fastapi" is already the name'],
		[["--target", `Node=${URL_OK}`], '"Node" is already the name'],
		[["--target", `x=${URL_OK}`, "--target", `x=${URL_OK}`], '"x" is already the name'],
		[["--target", "x=127.0.0.1:8000/predict"], "is not a URL like http://"],
		[["--target", "x=not a url"], "is not a URL"],
		[["--target", "x=ftp://host/predict"], "must be http:// or https://"],
		[["--target", "x=http://127.0.0.1:8000"], "needs the endpoint's path"],
		[["--target", "x=http://user:secret@127.0.0.1:8000/p"], "must not hold credentials"],
		[["--soak", "60s", "--target", `x=${URL_OK}`], "--soak measures our runtimes only"],
		[["--soak", "60s", "--peers", "fastapi"], "--soak measures our runtimes only"],
	];
	for (const [argv, message] of bad) {
		test(`rejects ${argv.join(" ")}`, () => {
			expect(() => parseOptions(argv)).toThrow(UsageError);
			expect(() => parseOptions(argv)).toThrow(message);
			// One line: the CLI prints the message as is.
			try {
				parseOptions(argv);
			} catch (error) {
				expect((error as Error).message).not.toContain("\n");
			}
		});
	}
});

describe("which cells a peer gets", () => {
	test("mlp-ts or mlp-onnx -> its one mlp cell (once); the floor -> GET /health; the rest skipped", () => {
		const models = ["mlp-onnx", "gbdt-onnx", "mlp-ts", "gbdt-ts", FLOOR];
		expect(peerCells("fastapi", models)).toEqual([
			{ model: "mlp", method: "POST", path: "/predict/mlp" },
			{ model: FLOOR, method: "GET", path: "/health" },
		]);
		expect(peerSkips("fastapi", models)).toEqual(["gbdt-onnx", "gbdt-ts"]);
		expect(peerSkips("fastapi", ["v2:survival"])).toEqual(["v2:survival"]);
	});

	test("floor-post -> the peer's own body-reading route, at the path and name ours have", () => {
		expect(peerCells("fastapi", [FLOOR_POST])).toEqual([
			{ model: FLOOR_POST, method: "POST", path: FLOOR_POST_PATH },
		]);
		expect(peerSkips("fastapi", [FLOOR_POST])).toEqual([]);
	});

	test("a bare peer: every one of our models at our path, under its own name, and both floors", () => {
		const models = [...MODELS, FLOOR, FLOOR_POST];
		for (const peer of ["node-bare", "bun-bare", "deno-bare"] as const) {
			expect(peerCells(peer, models)).toEqual([
				...MODELS.map((model) => ({ model, method: "POST" as const, path: `/predict/${model}` })),
				{ model: FLOOR, method: "GET", path: "/health" },
				{ model: FLOOR_POST, method: "POST", path: FLOOR_POST_PATH },
			]);
			expect(peerSkips(peer, models)).toEqual([]);
			expect(peerSkips(peer, ["v2:survival"])).toEqual(["v2:survival"]);
		}
	});
});

describe("plan with peers and targets", () => {
	const target = { name: "other", url: "http://127.0.0.1:9000/v1/predict?fast=1" };
	const plan = buildPlan({
		runtimes: ["node", "bun"],
		models: ["mlp-ts", "gbdt-ts", FLOOR],
		concurrency: [1, 8],
		rounds: 2,
		workers: [1, 2],
		peers: ["fastapi"],
		targets: [target],
	});

	test("each round: the runtimes (every workers value), then the peer, then the target", () => {
		expect(plan.map((s) => `${s.runtime}${s.workers}r${s.round}`)).toEqual([
			"node1r1",
			"bun1r1",
			"node2r1",
			"bun2r1",
			"fastapi1r1",
			"other1r1",
			"node1r2",
			"bun1r2",
			"node2r2",
			"bun2r2",
			"fastapi1r2",
			"other1r2",
		]);
	});

	test("the peer is started with its cells; no METRICS setting", () => {
		const peer = plan.find((s) => s.runtime === "fastapi");
		expect(peer?.launch).toEqual({ program: "fastapi" });
		expect(peer?.metrics).toEqual([null]);
		expect(peer?.cells.map((c) => `${c.method} ${c.path} ${c.model}@${c.concurrency}`)).toEqual([
			"POST /predict/mlp mlp@1",
			"GET /health floor@1",
			"POST /predict/mlp mlp@8",
			"GET /health floor@8",
		]);
	});

	test("the target is not started: one POST cell per concurrency, model = the URL's path", () => {
		const outside = plan.find((s) => s.runtime === "other");
		expect(outside?.launch).toEqual({ origin: "http://127.0.0.1:9000" });
		expect(outside?.cells.map((c) => `${c.method} ${c.path} ${c.model}@${c.concurrency}`)).toEqual([
			"POST /v1/predict?fast=1 /v1/predict?fast=1@1",
			"POST /v1/predict?fast=1 /v1/predict?fast=1@8",
		]);
	});

	test("a peer with no cell among the models is not started at all", () => {
		const only = buildPlan({
			runtimes: ["bun"],
			models: ["gbdt-ts"],
			concurrency: [1],
			rounds: 1,
			peers: ["fastapi"],
		});
		expect(only.map((s) => s.runtime)).toEqual(["bun"]);
	});
});

/** A local server answering every request with `status`. */
function answering(status: number): Promise<Server> {
	return new Promise((resolve) => {
		const server = createServer((request, response) => {
			request.resume();
			request.on("end", () => {
				response.writeHead(status, { "content-type": "application/json" });
				response.end('{"ok":true}');
			});
		});
		server.listen(0, "127.0.0.1", () => resolve(server));
	});
}

const urlOf = (server: Server, path = "/predict") =>
	`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

describe("the target pre-check", () => {
	let ok: Server;
	let failing: Server;
	beforeAll(async () => {
		ok = await answering(200);
		failing = await answering(500);
	});
	afterAll(() => {
		ok.close();
		failing.close();
	});

	test("a 2xx answer passes", async () => {
		await checkTarget({ name: "ok", url: urlOf(ok) }, "{}");
	});

	test("a 500 is one line naming the status", async () => {
		const check = checkTarget({ name: "bad", url: urlOf(failing) }, "{}");
		await expect(check).rejects.toThrow(TargetError);
		await expect(check).rejects.toThrow(/^--target bad: POST http:\S+ answered 500, not 2xx/);
	});

	test("a refused connection is one line naming why", async () => {
		const url = `http://127.0.0.1:${await freePort()}/predict`;
		const check = checkTarget({ name: "gone", url }, "{}");
		await expect(check).rejects.toThrow(/^--target gone: POST \S+ got no answer \(\w+/);
	});
});

describe("the report orders peers and targets after the runtimes", () => {
	const results = {
		options: {
			runtimes: ["node", "bun"],
			peers: ["fastapi"],
			targets: [{ name: "other", url: "http://127.0.0.1:9000/predict" }],
			models: ["mlp-ts", "gbdt-ts", FLOOR],
		},
		skipped: [{ runtime: "fastapi", models: ["gbdt-ts"] }],
		cells: [
			{ runtime: "bun", model: "mlp-ts" },
			{ runtime: "fastapi", model: "mlp" },
			{ runtime: "fastapi", model: FLOOR },
			{ runtime: "other", model: "/predict" },
		],
	} as unknown as Results;
	const sources = [{ label: "host", results }];

	test("runtimes, peers, targets; the unlisted models before the floor", () => {
		expect(runtimeOrder(sources)).toEqual(["node", "bun", "fastapi", "other"]);
		expect(modelOrder(sources)).toEqual(["mlp-ts", "gbdt-ts", "mlp", "/predict", FLOOR]);
	});

	test("a note per peer (measured and skipped cells) and per target", () => {
		const notes = outsideNotes(sources);
		expect(notes).toHaveLength(2);
		expect(notes[0]).toContain("fastapi is a reference server");
		expect(notes[0]).toContain("measured on mlp, floor; not on gbdt-ts");
		expect(notes[1]).toContain("other is a running server the bench neither started nor stopped");
		expect(notes[1]).toContain("http://127.0.0.1:9000/predict");
	});
});

describe("results.json with peers and targets", () => {
	const fixture = join(FIXTURES, "results.json");

	test("a file from before peers and targets still reads; their cells read once named in options", () => {
		const json = JSON.parse(readFileSync(fixture, "utf8"));
		expect(() => parseResults(JSON.stringify(json))).not.toThrow();
		json.cells[0].runtime = "fastapi";
		json.cells[1].runtime = "other";
		expect(() => parseResults(JSON.stringify(json))).toThrow(/at cells\.0\.runtime/);
		json.options.peers = ["fastapi"];
		json.options.targets = [{ name: "other", url: "http://127.0.0.1:9000/predict" }];
		expect(parseResults(JSON.stringify(json)).cells[1]?.runtime).toBe("other");
		json.processes[0].runtime = "flask";
		expect(() => parseResults(JSON.stringify(json))).toThrow(/at processes\.0\.runtime/);
	});
});

test("a peer with none of the cells asked for: the note says it was not started", () => {
	const results = {
		options: { runtimes: ["bun"], peers: ["fastapi"], models: ["gbdt-ts"] },
		skipped: [{ runtime: "fastapi", models: ["gbdt-ts"] }],
		cells: [{ runtime: "bun", model: "gbdt-ts" }],
	} as unknown as Results;
	expect(outsideNotes([{ label: "host", results }])).toEqual([
		"fastapi, a reference server (peers/fastapi/), was not started: it has none of the cells asked for (gbdt-ts).",
	]);
});
