import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Passenger } from "../../src/api/schemas.ts";
import { Manifest } from "../../src/inference/manifest.ts";
import { createMlpExecutor, MlpParams } from "../../src/inference/mlp.ts";
import { createRowEncoder, FEATURE_COUNT } from "../../src/inference/preprocess.ts";
import { readTitanicCsv } from "../../src/train/csv.ts";

/**
 * peers/fastapi/server.py, the reference Python server, must predict what our service predicts:
 * the same probability (within 1e-6) and the same class for every passenger, from the same
 * manifest and weights, and refuse what our schema refuses. Its tests need Debian's python3 with
 * the packages peers/fastapi/setup.sh installs; without them they skip and say how to install.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = "peers/fastapi/server.py";
/** The interpreter the npm script runs: Debian's, which sees /usr/lib/python3/dist-packages. */
const PYTHON = process.env.FASTAPI_PYTHON || "/usr/bin/python3";
const TRAIN_CSV = join(ROOT, "../shared/data/titanic/train.csv");

const probe = (code: string) =>
	spawnSync(PYTHON, ["-c", code], { stdio: "ignore", timeout: 30_000 }).status === 0;
const hasPython = probe("pass");
const hasPackages = hasPython && probe("import fastapi, uvicorn, uvloop, httptools, numpy");
const hasNpm = spawnSync("npm", ["--version"], { stdio: "ignore" }).status === 0;

if (!hasPackages) {
	console.warn(
		`tests/peers/fastapi: skipped: ${PYTHON} ${hasPython ? "lacks fastapi, uvicorn, uvloop, httptools or numpy" : "not found"}; install them with: bash peers/fastapi/setup.sh`,
	);
}
if (!existsSync(TRAIN_CSV)) {
	console.warn(`tests/peers/fastapi: ${TRAIN_CSV} is absent: comparing the fixed passengers only`);
}

// Our side: the mlp-ts executor and its preprocessing, in-process, from the same files.
const readModelsJson = (file: string): unknown =>
	JSON.parse(readFileSync(join(ROOT, "models", file), "utf8"));
const manifest = Manifest.parse(readModelsJson("manifest.json"));
const encodeRow = createRowEncoder(manifest.preprocessing, manifest.models.mlp.scaling);
const mlp = createMlpExecutor(MlpParams.parse(readModelsJson(manifest.models.mlp.params.file)));

function ours(passenger: Passenger): { prediction: 0 | 1; probability: number } {
	const input = new Float32Array(FEATURE_COUNT);
	encodeRow(passenger, input, 0);
	const probability = mlp.predict(input, 1)[0] ?? Number.NaN;
	return { prediction: probability >= 0.5 ? 1 : 0, probability };
}

/** Varied valid passengers, the edges of every range included. */
const FIXED: Passenger[] = [
	{ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 },
	{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
	{ Pclass: 3, Sex: "female", Age: 26, SibSp: 0, Parch: 0, Fare: 7.925 },
	{ Pclass: 1, Sex: "female", Age: 35, SibSp: 1, Parch: 0, Fare: 53.1 },
	{ Pclass: 3, Sex: "male", Age: null, SibSp: 0, Parch: 0, Fare: 8.4583 },
	{ Pclass: 2, Sex: "male", SibSp: 0, Parch: 0, Fare: 13 },
	{ Pclass: 2, Sex: "female", Age: 14, SibSp: 1, Parch: 0, Fare: 30.0708 },
	{ Pclass: 3, Sex: "male", Age: 0.42, SibSp: 0, Parch: 1, Fare: 8.5167 },
	{ Pclass: 1, Sex: "male", Age: 80, SibSp: 0, Parch: 0, Fare: 30 },
	{ Pclass: 1, Sex: "female", Age: 58, SibSp: 0, Parch: 1, Fare: 512.3292 },
	{ Pclass: 3, Sex: "female", Age: 2, SibSp: 4, Parch: 2, Fare: 31.275 },
	{ Pclass: 3, Sex: "male", Age: 9, SibSp: 8, Parch: 2, Fare: 69.55 },
	{ Pclass: 2, Sex: "female", Age: 29, SibSp: 0, Parch: 0, Fare: 0 },
	{ Pclass: 1, Sex: "male", Age: 120, SibSp: 20, Parch: 20, Fare: 10000 },
	{ Pclass: 3, Sex: "female", Age: 0.01, SibSp: 0, Parch: 0, Fare: 10000 },
	{ Pclass: 1, Sex: "female", Age: 120, SibSp: 0, Parch: 0, Fare: 0 },
	{ Pclass: 3, Sex: "male", Age: 120, SibSp: 20, Parch: 20, Fare: 0 },
	{ Pclass: 2, Sex: "male", Age: 45.5, SibSp: 2, Parch: 3, Fare: 26.55 },
	{ Pclass: 3, Sex: "female", Age: 18, SibSp: 1, Parch: 1, Fare: 14.4542 },
	{ Pclass: 1, Sex: "male", Age: 36.75, SibSp: 1, Parch: 2, Fare: 120 },
	{ Pclass: 2, Sex: "female", Age: null, SibSp: 0, Parch: 0, Fare: 12.35 },
];

const passengers: Passenger[] = [
	...FIXED,
	...(existsSync(TRAIN_CSV)
		? readTitanicCsv(TRAIN_CSV).map(({ passengerId: _id, survived: _label, ...p }) => p)
		: []),
];

const valid = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };

/** Bodies both servers must refuse, as JSON text. */
const INVALID: Record<string, string> = {
	"Pclass as a string": JSON.stringify({ ...valid, Pclass: "3" }),
	"unknown field age": JSON.stringify({ ...valid, Age: undefined, age: 22 }),
	"Pclass 4": JSON.stringify({ ...valid, Pclass: 4 }),
	"Pclass true": JSON.stringify({ ...valid, Pclass: true }),
	"Sex M": JSON.stringify({ ...valid, Sex: "M" }),
	"Age 0": JSON.stringify({ ...valid, Age: 0 }),
	"Age 121": JSON.stringify({ ...valid, Age: 121 }),
	"Age as a string": JSON.stringify({ ...valid, Age: "22" }),
	"SibSp 1.5": JSON.stringify({ ...valid, SibSp: 1.5 }),
	"Parch 21": JSON.stringify({ ...valid, Parch: 21 }),
	"Fare -1": JSON.stringify({ ...valid, Fare: -1 }),
	"Fare missing": JSON.stringify({ ...valid, Fare: undefined }),
	"an array": "[]",
	"not JSON": '{"Pclass":',
};

interface Peer {
	readonly child: ChildProcess;
	readonly url: string;
	log(): string;
}

/** Spawns the peer on a free port (PORT=0) and resolves once uvicorn names its address. */
async function startPeer(argv: string[], timeoutMs = 30_000): Promise<Peer> {
	const [command = "", ...args] = argv;
	const child = spawn(command, args, {
		cwd: ROOT,
		env: { ...process.env, HOST: "127.0.0.1", PORT: "0" },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let text = "";
	const log = () => text;
	const url = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`${argv.join(" ")} did not start in ${timeoutMs} ms:\n${text}`));
		}, timeoutMs);
		const collect = (chunk: Buffer) => {
			text += chunk.toString();
			const match = /Uvicorn running on (http:\/\/\S+)/.exec(text);
			if (match?.[1]) {
				clearTimeout(timer);
				resolve(match[1]);
			}
		};
		child.stdout?.on("data", collect);
		child.stderr?.on("data", collect);
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`${argv.join(" ")} exited with ${code} before listening:\n${text}`));
		});
	});
	await waitHealthy(url);
	return { child, url, log };
}

async function waitHealthy(url: string, timeoutMs = 20_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const response = await fetch(`${url}/health`).catch(() => null);
		if (response?.status === 200) return;
		await Bun.sleep(50);
	}
	throw new Error(`${url}/health did not answer 200 in ${timeoutMs} ms`);
}

/** SIGTERM; resolves with how the process ended, SIGKILLing it after `graceMs`. */
async function terminate(child: ChildProcess, graceMs = 20_000) {
	if (child.exitCode !== null || child.signalCode !== null) {
		return { code: child.exitCode, signal: child.signalCode, killed: false };
	}
	const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
	child.kill("SIGTERM");
	let killed = false;
	const timer = setTimeout(() => {
		killed = true;
		child.kill("SIGKILL");
	}, graceMs);
	const [code, signal] = await exited;
	clearTimeout(timer);
	return { code, signal, killed };
}

const postJson = (url: string, body: string) =>
	fetch(`${url}/predict/mlp`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body,
	});

describe.skipIf(!hasPackages)("the FastAPI peer (peers/fastapi)", () => {
	let peer: Peer;

	// Not registered when skipping: bun would list each hook as one more skipped test.
	if (hasPackages) {
		beforeAll(async () => {
			peer = await startPeer([PYTHON, SERVER]);
		});
		afterAll(async () => {
			if (peer) await terminate(peer.child);
		});
	}

	test("GET /health answers {status: ok}", async () => {
		const response = await fetch(`${peer.url}/health`);
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ status: "ok" });
	});

	test("POST /bench/floor-post reads the body and answers {status: ok}, as our bench route", async () => {
		const response = await fetch(`${peer.url}/bench/floor-post`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 }),
		});
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ status: "ok" });
	});

	test(`predicts what mlp-ts predicts for ${passengers.length} passengers`, async () => {
		expect(passengers.length).toBeGreaterThanOrEqual(FIXED.length);
		const mismatches: string[] = [];
		for (const passenger of passengers) {
			// Each one is a valid request to our service too.
			expect(Passenger.safeParse(passenger).success).toBe(true);
			const response = await postJson(peer.url, JSON.stringify(passenger));
			const body = (await response.json()) as Record<string, unknown>;
			const expected = ours(passenger);
			const same =
				response.status === 200 &&
				Object.keys(body).sort().join() === "model,prediction,probability" &&
				body.model === "mlp" &&
				body.prediction === expected.prediction &&
				typeof body.probability === "number" &&
				Math.abs(body.probability - expected.probability) <= 1e-6;
			if (!same) {
				mismatches.push(
					`${JSON.stringify(passenger)}: peer ${response.status} ${JSON.stringify(body)}, ours ${JSON.stringify(expected)}`,
				);
			}
		}
		expect(mismatches).toEqual([]);
	});

	test("refuses what our schema refuses, with FastAPI's 422", async () => {
		for (const [name, body] of Object.entries(INVALID)) {
			let parsed: unknown;
			try {
				parsed = JSON.parse(body);
			} catch {
				parsed = Symbol("not JSON");
			}
			expect({ name, oursAccepts: Passenger.safeParse(parsed).success }).toEqual({
				name,
				oursAccepts: false,
			});
			const response = await postJson(peer.url, body);
			expect({ name, status: response.status }).toEqual({ name, status: 422 });
			expect(await response.json()).toHaveProperty("detail");
		}
	});

	test("answers 404 for another model or route", async () => {
		const response = await fetch(`${peer.url}/predict/gbdt`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(valid),
		});
		expect(response.status).toBe(404);
	});

	test("SIGTERM stops it gracefully", async () => {
		const started = await startPeer([PYTHON, SERVER]);
		const ended = await terminate(started.child);
		expect(ended.killed).toBe(false);
		// uvicorn 0.17 exits 0 after a signal; newer releases re-raise the signal once shut down.
		expect(ended.code === 0 || ended.signal === "SIGTERM").toBe(true);
		expect(started.log()).toContain("Finished server process");
	});

	test.skipIf(!hasNpm)(
		"npm run peer:fastapi starts it, and a SIGTERM to npm stops it",
		async () => {
			const started = await startPeer(["npm", "run", "--silent", "peer:fastapi"]);
			const response = await postJson(started.url, JSON.stringify(valid));
			expect(await response.json()).toEqual({ model: "mlp", ...ours(valid as Passenger) });
			const ended = await terminate(started.child);
			expect(ended.killed).toBe(false);
			expect(started.log()).toContain("Finished server process");
		},
	);
});

test.skipIf(!hasPython)("a missing Python package: one line naming setup.sh, exit 1", () => {
	// -S leaves out site-packages and dist-packages, so fastapi and the rest cannot be imported.
	const run = spawnSync(PYTHON, ["-S", SERVER], {
		cwd: ROOT,
		encoding: "utf8",
		timeout: 30_000,
	});
	expect(run.status).toBe(1);
	expect(run.stdout).toBe("");
	const lines = run.stderr.trimEnd().split("\n");
	expect(lines).toHaveLength(1);
	expect(lines[0]).toContain("bash peers/fastapi/setup.sh");
});
