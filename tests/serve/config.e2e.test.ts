import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
	cpSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { freePort } from "../../bench/runtimes.ts";
import {
	type LaunchedServer,
	launch,
	PROJECT_ROOT,
	RUNTIMES,
	type RunningServer,
	type Runtime,
	runToExit,
	type ServerEnv,
	serveCommand,
	startServer,
	untilListening,
} from "../support/server.ts";

/**
 * Every setting README's "Configuration" table documents, on real servers of Node, Bun and Deno
 * started as users start them (the bench's argv; Deno's flags from deno.json), and the npm scripts
 * and `deno task serve` themselves. Checks of one setting run the three runtimes at once.
 */

// Generous bounds for a loaded 2-core machine starting several servers at once; never timings.
const STARTUP_MS = 60_000;
const LOG_WAIT_MS = 15_000;
setDefaultTimeout(3 * STARTUP_MS);

const CONFIG_VARIABLES = [
	"PORT",
	"HOST",
	"MODELS_DIR",
	"LOG_LEVEL",
	"API_KEY",
	"WORKERS",
	"METRICS",
] as const;
type Settings = Partial<Record<(typeof CONFIG_VARIABLES)[number], string>>;

const KEY = "config-e2e-key-0123456789";
const PASSENGER = JSON.stringify({
	Pclass: 1,
	Sex: "female",
	Age: 30,
	SibSp: 0,
	Parch: 0,
	Fare: 80,
});
/** Written into the copied manifest: GET /models shows it only if the copy is what was served. */
const COPY_MARKER_ACCURACY = 0.5;

/** Exactly `settings`: a variable the test runner happens to export must not reach a server. */
function only(settings: Settings): ServerEnv {
	return Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, settings[name]]));
}

/** Runs `check` on every runtime at once; fails naming each runtime whose check failed. */
async function onEveryRuntime(check: (runtime: Runtime) => Promise<void>): Promise<void> {
	const results = await Promise.allSettled(RUNTIMES.map(check));
	const failures = results.flatMap((result, i) =>
		result.status === "rejected" ? [`${RUNTIMES[i]}: ${messageOf(result.reason)}`] : [],
	);
	if (failures.length > 0) throw new Error(failures.join("\n\n"));
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function until(condition: () => boolean, what: string, timeoutMs = LOG_WAIT_MS) {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await Bun.sleep(25);
	}
}

/** `count` ports nothing listens on, all different (servers started together must not collide). */
async function freePorts(count: number): Promise<number[]> {
	const ports = new Set<number>();
	while (ports.size < count) ports.add(await freePort());
	return [...ports];
}

/** Polls `url`/ready until 200; fails at once if the server exits first. */
async function untilReady(server: LaunchedServer, url: string): Promise<void> {
	const deadline = Date.now() + STARTUP_MS;
	for (;;) {
		const { exitCode, signalCode } = server.process;
		if (exitCode !== null || signalCode !== null) {
			throw new Error(`ended (${exitCode ?? signalCode}) before ready:\n${server.stderr()}`);
		}
		if (Date.now() > deadline) throw new Error(`${url} not ready after ${STARTUP_MS} ms`);
		const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) }).catch(
			() => null,
		);
		await response?.arrayBuffer();
		if (response?.status === 200) return;
		await Bun.sleep(50);
	}
}

/** Runs `use`, then SIGTERMs the server and expects it to exit 0; stops it on failure too. */
async function useThenStop(server: LaunchedServer, use: () => Promise<void>): Promise<void> {
	try {
		await use();
	} catch (error) {
		await server.stop();
		throw error;
	}
	expect({ exit: await server.stop() }).toEqual({ exit: 0 });
}

/** A server that logs its address (LOG_LEVEL info or debug). */
async function withServer(
	runtime: Runtime,
	settings: Settings,
	use: (server: RunningServer) => Promise<void>,
): Promise<void> {
	const server = await startServer(runtime, only(settings), STARTUP_MS);
	await useThenStop(server, () => use(server));
}

/**
 * A server below LOG_LEVEL=info, which says nothing: it is found through /ready on its PORT.
 * Resolves with the stopped server, to read everything it wrote.
 */
async function withQuietServer(
	runtime: Runtime,
	settings: Settings & { PORT: string },
	use: (url: string) => Promise<void>,
): Promise<LaunchedServer> {
	const server = launch(serveCommand(runtime), only(settings));
	const url = `http://127.0.0.1:${settings.PORT}`;
	await useThenStop(server, async () => {
		await untilReady(server, url);
		await use(url);
	});
	return server;
}

async function predict(url: string, model = "gbdt-ts", headers: Record<string, string> = {}) {
	const response = await fetch(`${url}/predict/${model}`, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: PASSENGER,
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** LOG_LEVEL=info: the listening and ready lines, nothing below info, nothing per request. */
async function expectInfoLinesOnly(server: RunningServer): Promise<void> {
	await until(() => /^info: ready: /m.test(server.stderr()), "the ready line");
	expect(server.stderr()).toContain(`info: listening on ${server.url} (`);
	for (const line of server.stderr().split("\n").filter(Boolean)) {
		expect(line).toStartWith("info: ");
	}
}

/** Worker numbers that logged `ready`, in order. */
function readyWorkers(server: LaunchedServer): number[] {
	const matches = server.stderr().matchAll(/^worker (\d+): info: ready: /gm);
	return [...matches].map((match) => Number(match[1])).sort((a, b) => a - b);
}

/** A copy of models/ with a marker in its manifest, inside the project (Deno reads only there). */
function markedCopyOfModels(parent: string): string {
	mkdirSync(parent, { recursive: true });
	const dir = join(mkdtempSync(join(parent, "config-e2e-")), "models");
	cpSync(join(PROJECT_ROOT, "models"), dir, { recursive: true });
	const manifestPath = join(dir, "manifest.json");
	const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
	manifest.models.gbdt.metrics.holdout.accuracy = COPY_MARKER_ACCURACY;
	writeFileSync(manifestPath, JSON.stringify(manifest));
	return dir;
}

const TEST_TMP = join(PROJECT_ROOT, ".test-tmp");
const copies: string[] = [];
afterAll(() => {
	for (const dir of copies) rmSync(join(dir, ".."), { recursive: true, force: true });
});

function canListenOn(host: string): Promise<boolean> {
	return new Promise((resolve) => {
		const server = createServer();
		server.once("error", () => resolve(false));
		server.listen(0, host, () => server.close(() => resolve(true)));
	});
}

const IPV6_LOOPBACK = await canListenOn("::1");
if (!IPV6_LOOPBACK) console.warn("config.e2e: no IPv6 loopback (::1) here; skipping HOST=::1");

describe("PORT, HOST, MODELS_DIR and LOG_LEVEL=info", () => {
	test("a fixed PORT, the default HOST and LOG_LEVEL, MODELS_DIR a copy inside the project", async () => {
		const models = markedCopyOfModels(TEST_TMP);
		copies.push(models);
		const ports = await freePorts(RUNTIMES.length);
		await onEveryRuntime(async (runtime) => {
			const port = ports[RUNTIMES.indexOf(runtime)] as number;
			const settings = { PORT: String(port), MODELS_DIR: relative(PROJECT_ROOT, models) };
			await withServer(runtime, settings, async (server) => {
				expect(server.url).toBe(`http://127.0.0.1:${port}`);
				await untilReady(server, server.url);
				expect((await predict(server.url)).status).toBe(200);
				const info = (await (await fetch(`${server.url}/models/gbdt-ts`)).json()) as {
					metrics: { holdout: { accuracy: number } };
				};
				expect(info.metrics.holdout.accuracy).toBe(COPY_MARKER_ACCURACY);
				await expectInfoLinesOnly(server);
			});
		});
	});

	test("PORT=0 picks a port the log names; HOST=0.0.0.0 answers on 127.0.0.1; debug logs the request", async () => {
		await onEveryRuntime((runtime) =>
			withServer(runtime, { PORT: "0", HOST: "0.0.0.0", LOG_LEVEL: "debug" }, async (server) => {
				const port = Number(new URL(server.url).port);
				expect(port).toBeGreaterThan(0);
				expect(server.url).toBe(`http://0.0.0.0:${port}`);
				const local = `http://127.0.0.1:${port}`;
				await untilReady(server, local);
				expect((await predict(local, "mlp-ts")).status).toBe(200);
				await until(
					() => /^debug: POST \/predict\/mlp-ts 200 \d+\.\d+ ms$/m.test(server.stderr()),
					"the prediction's debug line",
				);
			}),
		);
	});

	test.skipIf(!IPV6_LOOPBACK)(
		"HOST=::1 listens on the IPv6 loopback, as the log says; LOG_LEVEL=info set explicitly",
		async () => {
			await onEveryRuntime((runtime) =>
				withServer(runtime, { PORT: "0", HOST: "::1", LOG_LEVEL: "info" }, async (server) => {
					const port = Number(new URL(server.url).port);
					expect(server.url).toBe(`http://[::1]:${port}`);
					await untilReady(server, server.url);
					expect((await predict(server.url)).status).toBe(200);
					await expectInfoLinesOnly(server);
				}),
			);
		},
	);
});

describe("LOG_LEVEL below info", () => {
	test.each(["silent", "error", "warn"])(
		"LOG_LEVEL=%s writes nothing through startup, a request and shutdown",
		async (level) => {
			const ports = await freePorts(RUNTIMES.length);
			await onEveryRuntime(async (runtime) => {
				const PORT = String(ports[RUNTIMES.indexOf(runtime)]);
				const server = await withQuietServer(runtime, { PORT, LOG_LEVEL: level }, async (url) => {
					expect((await predict(url)).status).toBe(200);
				});
				expect(server.stderr()).toBe("");
			});
		},
	);
});

/** Worker numbers whose debug log shows them answering `path` with `status`. */
function workersAnswering(server: LaunchedServer, path: string, status: number): Set<number> {
	const answered = new Set<number>();
	for (const match of server.stderr().matchAll(/^worker (\d+): debug: POST (\S+) (\d{3}) /gm)) {
		if (match[2] === path && Number(match[3]) === status) answered.add(Number(match[1]));
	}
	return answered;
}

/**
 * Predictions with and without the key, each on a new connection so the kernel spreads them over
 * both workers, until each worker has answered 200 and 401 (or, practically never, after 40 rounds).
 */
async function expectEveryWorkerEnforcesTheKey(server: LaunchedServer, url: string) {
	const path = "/predict/gbdt-onnx";
	const close = { connection: "close" };
	const bothWorkers = () =>
		workersAnswering(server, path, 200).size === 2 &&
		workersAnswering(server, path, 401).size === 2;
	for (let round = 0; round < 40 && !bothWorkers(); round++) {
		const withKey = { ...close, authorization: `Bearer ${KEY}` };
		const statuses = await Promise.all([
			...Array.from({ length: 5 }, () => predict(url, "gbdt-onnx", withKey)),
			...Array.from({ length: 5 }, () => predict(url, "gbdt-onnx", close)),
		]);
		expect(statuses.map((answer) => answer.status)).toEqual([
			...Array(5).fill(200),
			...Array(5).fill(401),
		]);
	}
	await until(bothWorkers, "a 200 with the key and a 401 without it from each worker");
}

describe("API_KEY and WORKERS", () => {
	test("API_KEY with WORKERS=2: both workers ready, both enforce the key; probes and docs open", async () => {
		const ports = await freePorts(RUNTIMES.length);
		await onEveryRuntime(async (runtime) => {
			const port = ports[RUNTIMES.indexOf(runtime)] as number;
			const settings = { PORT: String(port), WORKERS: "2", API_KEY: KEY, LOG_LEVEL: "debug" };
			await withServer(runtime, settings, async (server) => {
				await until(
					() => readyWorkers(server).length === 2,
					"both workers' ready lines",
					STARTUP_MS,
				);
				expect(readyWorkers(server)).toEqual([1, 2]);
				const url = `http://127.0.0.1:${port}`;
				for (const path of ["/health", "/ready", "/docs", "/openapi.json"]) {
					const response = await fetch(`${url}${path}`);
					await response.arrayBuffer();
					expect({ path, status: response.status }).toEqual({ path, status: 200 });
				}
				const models = await fetch(`${url}/models`);
				await models.arrayBuffer();
				expect(models.status).toBe(401);
				await expectEveryWorkerEnforcesTheKey(server, url);
				expect(server.stderr()).not.toContain("failed to start");
			});
		});
	});

	// One runtime at a time: "auto" is one worker per core, which on a big machine is many.
	test.each(RUNTIMES)(
		"WORKERS=auto with LOG_LEVEL=debug on %s: one worker per CPU the runtime sees",
		async (runtime) => {
			const cpus = await cpuCountSeenBy(runtime);
			const port = await freePort();
			const settings = { PORT: String(port), WORKERS: "auto", LOG_LEVEL: "debug" };
			await withServer(runtime, settings, async (server) => {
				if (cpus > 1) {
					expect(server.stderr()).toContain(
						`info: starting ${cpus} workers on 127.0.0.1:${port} (`,
					);
					await until(() => readyWorkers(server).length >= cpus, `${cpus} ready lines`, STARTUP_MS);
					expect(readyWorkers(server)).toEqual(Array.from({ length: cpus }, (_, i) => i + 1));
				} else {
					// One core: auto means one worker, which is this process itself.
					await until(() => /^info: ready: /m.test(server.stderr()), "the ready line", STARTUP_MS);
					expect(server.stderr()).not.toMatch(/^worker \d+: /m);
				}
				const url = `http://127.0.0.1:${port}`;
				expect((await predict(url, "mlp-onnx", { connection: "close" })).status).toBe(200);
				const logged = /^(worker \d+: )?debug: POST \/predict\/mlp-onnx 200 \d+\.\d+ ms$/m;
				await until(() => logged.test(server.stderr()), "the prediction's debug line");
			});
		},
	);
});

/** availableParallelism() as `runtime` itself reports it (Deno's count may honour cgroup quotas). */
async function cpuCountSeenBy(runtime: Runtime): Promise<number> {
	const [bin = ""] = serveCommand(runtime);
	const code = 'import("node:os").then((os) => console.log(os.availableParallelism()))';
	const argv = runtime === "deno" ? [bin, "eval", code] : [bin, "-e", code];
	const result = await runToExit(argv);
	const count = Number(result.stdout.trim());
	if (!Number.isInteger(count) || count < 1)
		throw new Error(`${runtime}: no CPU count: ${result.stderr}`);
	return count;
}

/** Expects the one line and exit 1 that README promises for a bad setting. */
function expectOneLineFailure(
	result: { code: number | null; stdout: string; stderr: string },
	pattern: RegExp,
	label: string,
): void {
	const output = `${result.stdout}${result.stderr}`.trim().split("\n");
	expect({ label, code: result.code, lines: output.length }).toEqual({ label, code: 1, lines: 1 });
	expect(output[0]).toMatch(pattern);
}

/** A couple of representative bad values per variable (config.test.ts covers the parser). */
const BAD_SETTINGS: ReadonlyArray<[Settings, RegExp]> = [
	[{ PORT: "70000" }, /^titanic-serve: invalid PORT="70000": must be 0-65535$/],
	[{ PORT: " " }, /^titanic-serve: invalid PORT=" ": must not be blank$/],
	// TEST-NET-1 (RFC 5737): never one of this machine's addresses, so binding fails, without DNS.
	[{ HOST: "192.0.2.1" }, /^titanic-serve: cannot listen on 192\.0\.2\.1:0: \S/],
	[
		{ HOST: "127.0.0.1 " },
		/^titanic-serve: invalid HOST="127\.0\.0\.1 ": must not contain spaces$/,
	],
	[{ LOG_LEVEL: "INFO" }, /^titanic-serve: invalid LOG_LEVEL="INFO": must be one of silent, /],
	[{ LOG_LEVEL: "verbose" }, /^titanic-serve: invalid LOG_LEVEL="verbose": must be one of /],
	[{ API_KEY: "too-short" }, /^titanic-serve: invalid API_KEY=\(hidden\): must be at least 16 /],
	[{ API_KEY: "" }, /^titanic-serve: invalid API_KEY=\(hidden\): must not be empty \(unset it /],
	[
		{ WORKERS: "65" },
		/^titanic-serve: invalid WORKERS="65": must be a whole number 1-64 or "auto"$/,
	],
	[{ WORKERS: "2.5" }, /^titanic-serve: invalid WORKERS="2\.5": must be a whole number 1-64 /],
	[{ METRICS: "false" }, /^titanic-serve: invalid METRICS="false": must be "on" or "off"$/],
];

describe("invalid settings", () => {
	test("a bad value of each variable: one line naming it, exit 1, on every runtime", async () => {
		await onEveryRuntime(async (runtime) => {
			await Promise.all(
				BAD_SETTINGS.map(async ([bad, pattern]) => {
					// PORT=0 unless under test: a value wrongly accepted starts a server, not on 3000.
					const result = await runToExit(serveCommand(runtime), only({ PORT: "0", ...bad }));
					expectOneLineFailure(result, pattern, JSON.stringify(bad));
					expect(result.stderr).not.toContain("too-short");
				}),
			);
		});
	});

	test("MODELS_DIR, a folder with neither manifest.json nor a NAME.onnx: one line, exit 1, never listening", async () => {
		const models = markedCopyOfModels(TEST_TMP);
		copies.push(models);
		for (const file of ["manifest.json", "mlp.onnx", "gbdt.onnx"]) rmSync(join(models, file));
		const dir = relative(PROJECT_ROOT, models);
		await onEveryRuntime(async (runtime) => {
			// At the default LOG_LEVEL=info a server that listened would have said so: a second line.
			const result = await runToExit(serveCommand(runtime), only({ PORT: "0", MODELS_DIR: dir }));
			const pattern = new RegExp(
				`^titanic-serve: cannot load models: ${escapeRegExp(dir)}: no manifest\\.json and no NAME\\.onnx file to serve$`,
			);
			expectOneLineFailure(result, pattern, `MODELS_DIR=${dir}`);
		});
	});

	test.skipIf(!relative(PROJECT_ROOT, tmpdir()).startsWith(".."))(
		"Deno, MODELS_DIR outside the project (beyond --allow-read=.): one line, exit 1",
		async () => {
			const models = markedCopyOfModels(tmpdir());
			copies.push(models);
			const result = await runToExit(serveCommand("deno"), only({ PORT: "0", MODELS_DIR: models }));
			const pattern = new RegExp(
				`^titanic-serve: cannot load models: ${escapeRegExp(models)}: cannot read \\(the runtime is not allowed to read it; under Deno, MODELS_DIR must be inside the project\\)$`,
			);
			expectOneLineFailure(result, pattern, `MODELS_DIR=${models}`);
		},
	);
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface ProcessInfo {
	readonly pid: number;
	readonly ppid: number;
	readonly args: string;
}

/** One process's parent and argv from /proc (Linux), or null once it is gone or a zombie. */
function processInfo(pid: number): ProcessInfo | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name, in parentheses, may itself hold spaces and parentheses.
		const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		if (state === "Z" || state === "X") return null;
		const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
		return { pid, ppid: Number(ppid), args };
	} catch {
		return null;
	}
}

/** Every live process below `root`, parents before their children. */
function descendants(root: number): ProcessInfo[] {
	const all = readdirSync("/proc")
		.filter((name) => /^\d+$/.test(name))
		.flatMap((name) => processInfo(Number(name)) ?? []);
	const found: ProcessInfo[] = [];
	for (let parents = [root]; parents.length > 0; ) {
		const children = all.filter((p) => parents.includes(p.ppid));
		found.push(...children);
		parents = children.map((p) => p.pid);
	}
	return found;
}

/** Still running as the same program (not a reused pid). */
const stillRunning = (p: ProcessInfo) => processInfo(p.pid)?.args === p.args;

const bin = (name: string) => join(PROJECT_ROOT, "node_modules", ".bin", name);

/** The commands README gives for starting a server, each wrapping the runtime in a launcher. */
const LAUNCHERS: ReadonlyArray<{ name: string; argv: string[] }> = [
	{ name: "npm run serve", argv: ["npm", "run", "serve"] },
	{ name: "npm run serve:node", argv: ["npm", "run", "serve:node"] },
	{ name: "npm run serve:deno", argv: ["npm", "run", "serve:deno"] },
	{ name: "bun run serve", argv: [bin("bun"), "run", "serve"] },
	{ name: "deno task serve", argv: [bin("deno"), "task", "serve"] },
];

/**
 * Starts `argv`, predicts once, SIGTERMs the launcher (as a terminal's Ctrl-C or a process
 * manager would signal it) and expects the server under it to drain and every process to end.
 */
async function expectLauncherServesAndStops(argv: string[], label: string): Promise<void> {
	const launcher = launch(argv, only({ PORT: "0" }));
	let tree: ProcessInfo[] = [];
	try {
		const url = await untilListening(launcher, label, STARTUP_MS);
		await untilReady(launcher, url);
		expect((await predict(url)).status).toBe(200);
		tree = descendants(launcher.process.pid as number);
		expect(tree.some((p) => p.args.includes("src/serve/"))).toBe(true);
		await launcher.stop();
		const leftovers = () => tree.filter(stillRunning).map((p) => `${p.pid} ${p.args}`);
		await until(() => leftovers().length === 0, `no stray process (left: ${leftovers()})`);
		expect(launcher.stderr()).toContain("info: stopped");
	} finally {
		await launcher.stop();
		for (const p of tree.filter(stillRunning)) process.kill(p.pid, "SIGKILL");
	}
}

test.skipIf(!existsSync("/proc/self/stat"))(
	"the npm scripts, `bun run serve` and `deno task serve` serve, and SIGTERM leaves no process",
	async () => {
		const results = await Promise.allSettled(
			LAUNCHERS.map(({ name, argv }) => expectLauncherServesAndStops(argv, name)),
		);
		const failures = results.flatMap((result, i) =>
			result.status === "rejected" ? [`${LAUNCHERS[i]?.name}: ${messageOf(result.reason)}`] : [],
		);
		if (failures.length > 0) throw new Error(failures.join("\n\n"));
	},
);
