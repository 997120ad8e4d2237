import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { FIXTURES, hasServer, isAlive, ROOT, runCli, tempDir } from "./helpers.ts";

const oneLine = (stderr: string) => stderr.trim().split("\n");

describe("bench CLI input errors: one line, exit 1, nothing started", () => {
	const cases: [string[], string][] = [
		[["--runtimes", "node,jvm"], 'bench: unknown runtime "jvm" (expected one of node, bun, deno)'],
		[["--models", "mlp-onnx,resnet"], 'bench: unknown model "resnet"'],
		[["--requests", "lots"], 'bench: --requests must be an integer, got "lots"'],
		[["--warp"], "bench: Unknown option '--warp'"],
		[["--body", "/nonexistent/body.json"], "bench: --body: cannot read /nonexistent/body.json"],
	];
	for (const [args, message] of cases) {
		test(args.join(" "), async () => {
			const result = await runCli("bench/cli.ts", args);
			expect(result.code).toBe(1);
			expect(oneLine(result.stderr)).toHaveLength(1);
			expect(result.stderr).toStartWith(message);
			expect(result.stdout).toBe("");
		});
	}

	test("--loadgen oha without oha", async () => {
		const result = await runCli("bench/cli.ts", ["--loadgen", "oha"], {
			env: { PATH: "/nonexistent", OHA_BIN: "" },
		});
		expect(result.code).toBe(1);
		expect(oneLine(result.stderr)).toEqual([
			"bench: oha not found on PATH (set OHA_BIN, or use --loadgen h2load or builtin)",
		]);
	});

	test("--help", async () => {
		const result = await runCli("bench/cli.ts", ["--help"]);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("--concurrency LIST");
	});
});

/** The stand-in server writes "<server pid> <its child pid>" here. */
function neverReadyEnv(pidFile: string, timeoutMs: number): NodeJS.ProcessEnv {
	return {
		BENCH_SERVE_DIR: join(FIXTURES, "never-ready"),
		BENCH_READY_TIMEOUT_MS: String(timeoutMs),
		BENCH_TEST_PID_FILE: pidFile,
	};
}

const pidsIn = (file: string) => readFileSync(file, "utf8").trim().split(" ").map(Number);

async function allDead(pids: number[]): Promise<boolean> {
	for (let i = 0; i < 50 && pids.some(isAlive); i++) await Bun.sleep(20);
	return !pids.some(isAlive);
}

describe("bench CLI failures leave no process behind", () => {
	test("a server that never becomes ready", async () => {
		const pidFile = join(tempDir("never"), "pids");
		const out = tempDir("never-out");
		const result = await runCli(
			"bench/cli.ts",
			["--runtimes", "node", "--loadgen", "builtin", "--out", out],
			{ env: neverReadyEnv(pidFile, 1500) },
		);
		expect(result.code).toBe(1);
		expect(oneLine(result.stderr).at(-1)).toBe("bench: node server was not ready within 1500 ms");
		const pids = pidsIn(pidFile);
		expect(pids).toHaveLength(2);
		expect(await allDead(pids)).toBe(true);
	});

	test("SIGINT while a server is starting", async () => {
		const pidFile = join(tempDir("sigint"), "pids");
		let benchPid = 0;
		const running = runCli(
			"bench/cli.ts",
			["--runtimes", "node", "--loadgen", "builtin", "--out", tempDir("sigint-out")],
			{ env: neverReadyEnv(pidFile, 60_000), onSpawn: (pid) => (benchPid = pid) },
		);
		for (let i = 0; i < 250 && !existsSync(pidFile); i++) await Bun.sleep(20);
		expect(existsSync(pidFile)).toBe(true);
		await Bun.sleep(50);
		process.kill(benchPid, "SIGINT");
		const result = await running;
		expect(result.code).toBe(130);
		expect(result.stderr).toContain("bench: interrupted by SIGINT");
		expect(await allDead(pidsIn(pidFile))).toBe(true);
	});

	test.skipIf(!hasServer)("a port in use", async () => {
		const blocker = createServer();
		await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
		const address = blocker.address();
		const port = typeof address === "object" && address ? address.port : 0;
		try {
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"node",
				"--models",
				"floor",
				"--requests",
				"5",
				"--warmup",
				"0",
				"--rounds",
				"1",
				"--loadgen",
				"builtin",
				"--port",
				String(port),
				"--out",
				tempDir("port"),
			]);
			// Caught before the server is even started: whatever holds the port would otherwise be
			// measured under the runtime's name.
			expect(result.code).toBe(1);
			expect(oneLine(result.stderr).at(-1)).toBe(
				`bench: --port ${port}: another server already listens there; stop it or leave --port out`,
			);
		} finally {
			blocker.close();
		}
	});

	test.skipIf(!hasServer)(
		"a body the server refuses: one line with its answer, nothing timed",
		async () => {
			const dir = tempDir("refused-body");
			const body = join(dir, "body.json");
			writeFileSync(body, '{"Pclass":"x"}');
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"node",
				"--models",
				"gbdt-ts",
				"--requests",
				"5",
				"--rounds",
				"1",
				"--loadgen",
				"builtin",
				"--body",
				body,
				"--out",
				join(dir, "out"),
			]);
			expect(result.code).toBe(1);
			const last = oneLine(result.stderr).at(-1) ?? "";
			expect(last).toStartWith("bench: node answered 400 to POST /predict/gbdt-ts:");
			expect(last).toContain("every cell must answer 2xx before it is measured");
			expect(result.stdout).toBe("");
		},
	);
});

test("fixtures used here exist", () => {
	expect(existsSync(join(FIXTURES, "never-ready", "node.ts"))).toBe(true);
	expect(existsSync(join(ROOT, "deno.json"))).toBe(true);
	writeFileSync(join(tempDir("noop"), "x"), "");
});
