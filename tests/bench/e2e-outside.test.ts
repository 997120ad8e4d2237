import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { readResults } from "../../bench/results.ts";
import { freePort } from "../../bench/runtimes.ts";
import { hasServer, runCli, tempDir } from "./helpers.ts";

/** The bench with a peer (the real FastAPI server) and a --target (a tiny local server). */

const PYTHON = "/usr/bin/python3";
const hasPython = existsSync(PYTHON);
const hasFastapi =
	hasPython &&
	spawnSync(PYTHON, ["-c", "import fastapi, uvicorn, uvloop, httptools, numpy"]).status === 0;
if (!hasFastapi) {
	console.warn(
		`${PYTHON} lacks the FastAPI peer's packages (bash peers/fastapi/setup.sh): its end-to-end run is skipped`,
	);
}

const SHORT = ["--requests", "40", "--warmup", "5", "--rounds", "1", "--loadgen", "builtin"];

/** A stand-in for someone else's service: answers every request with `status`, counting them. */
function outsideServer(status: number): Promise<Server & { hits: number }> {
	return new Promise((resolve) => {
		const server = Object.assign(
			createServer((request, response) => {
				server.hits++;
				request.resume();
				request.on("end", () => {
					response.writeHead(status, { "content-type": "application/json" });
					response.end('{"prediction":0}');
				});
			}),
			{ hits: 0 },
		);
		server.listen(0, "127.0.0.1", () => resolve(server));
	});
}

const urlOf = (server: Server, path: string) =>
	`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

describe.skipIf(!hasServer)("--target", () => {
	let ok: Server & { hits: number };
	let failing: Server & { hits: number };
	beforeAll(async () => {
		ok = await outsideServer(200);
		failing = await outsideServer(500);
	});
	afterAll(() => {
		ok.close();
		failing.close();
	});

	test(
		"a running server is measured beside the runtime, named, its path as the model",
		async () => {
			const out = tempDir("target");
			const url = urlOf(ok, "/v1/predict");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"bun",
				"--models",
				"mlp-ts,floor",
				"--target",
				`other=${url}`,
				...SHORT,
				"--out",
				out,
			]);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			const results = readResults(join(out, "results.json"));
			expect(results.options.targets).toEqual([{ name: "other", url }]);
			const cells = results.cells.filter((c) => c.runtime === "other");
			expect(cells.map((c) => c.model)).toEqual(["/v1/predict"]);
			expect(cells[0]?.stats.count).toBe(40);
			expect(cells[0]?.stats.statusCodes).toEqual({ "200": 40 });
			expect(cells[0]?.serverCpuMs).toBeNull();
			expect(existsSync(join(out, cells[0]?.rawFile ?? "missing"))).toBe(true);
			// The pre-check, the warm-up and the measured requests all reached it.
			expect(ok.hits).toBeGreaterThanOrEqual(1 + 5 + 40);
			// Not started, so no process record; the runtime's is there.
			expect(results.processes.map((p) => p.runtime)).toEqual(["bun"]);
			// After the runtime in the tables (the first one, "By runtime", here).
			const byRuntime = result.stdout.split("By model")[0] ?? "";
			const rows = byRuntime.split("\n").filter((l) => /^(bun|other) /.test(l));
			expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
				"bun mlp-ts",
				"bun floor",
				"other /v1/predict",
			]);
		},
		{ timeout: 60_000 },
	);

	test("a target answering 500 stops the bench before it starts: one line, exit 1", async () => {
		const url = urlOf(failing, "/predict");
		const result = await runCli("bench/cli.ts", [
			"--runtimes",
			"bun",
			"--target",
			`x=${url}`,
			...SHORT,
		]);
		expect(result.code).toBe(1);
		expect(result.stderr).toBe(
			`bench: --target x: POST ${url} answered 500, not 2xx: it must accept the bench's body (--body)\n`,
		);
	});

	test("a target nothing listens on: one line, exit 1", async () => {
		const url = `http://127.0.0.1:${await freePort()}/predict`;
		const result = await runCli("bench/cli.ts", [
			"--runtimes",
			"bun",
			"--target",
			`x=${url}`,
			...SHORT,
		]);
		expect(result.code).toBe(1);
		expect(result.stderr).toMatch(/^bench: --target x: POST \S+ got no answer \(\w+\)\n$/);
	});
});

describe.skipIf(!hasServer || !hasFastapi)("--peers fastapi, the real peer", () => {
	test(
		"started like a runtime, measured on mlp and floor, gbdt-ts skipped with a note",
		async () => {
			const out = tempDir("peer");
			const result = await runCli("bench/cli.ts", [
				"--runtimes",
				"bun",
				"--models",
				"mlp-ts,gbdt-ts,floor",
				"--peers",
				"fastapi",
				...SHORT,
				"--out",
				out,
			]);
			expect(result.stderr).not.toContain("warning");
			expect(result.code).toBe(0);
			const results = readResults(join(out, "results.json"));
			const cells = results.cells.filter((c) => c.runtime === "fastapi");
			expect(cells.map((c) => c.model).sort()).toEqual(["floor", "mlp"]);
			for (const cell of cells) {
				expect(cell.stats.statusCodes).toEqual({ "200": 40 });
				expect(cell.stats.errors).toBe(0);
			}
			expect(results.skipped).toEqual([{ runtime: "fastapi", models: ["gbdt-ts"] }]);
			expect(results.environment.runtimes.fastapi).toMatch(/^\d+\.\d+\S* \(uvicorn \d/);
			const peer = results.processes.find((p) => p.runtime === "fastapi");
			expect(peer?.exitCode).toBe(0);
			expect(peer?.killed).toBe(false);
			expect(peer?.peakRssKiB ?? 0).toBeGreaterThan(0);
			const report = readFileSync(join(out, "report.md"), "utf8");
			expect(report).toContain("not on gbdt-ts");
			expect(report).toMatch(/\| fastapi +\| mlp /);
		},
		{ timeout: 120_000 },
	);
});

describe.skipIf(!hasServer)(
	"--peers node-bare,bun-bare,deno-bare, the runtimes' own servers",
	() => {
		test(
			"each measured on the floors and the prediction, exit 0 on SIGTERM",
			async () => {
				const out = tempDir("bare");
				const bare = ["node-bare", "bun-bare", "deno-bare"];
				const result = await runCli("bench/cli.ts", [
					"--runtimes",
					"bun",
					"--models",
					"mlp-ts,floor,floor-post",
					"--peers",
					bare.join(","),
					...SHORT,
					"--out",
					out,
				]);
				expect(result.stderr).not.toContain("warning");
				expect(result.code).toBe(0);
				const results = readResults(join(out, "results.json"));
				for (const peer of bare) {
					const cells = results.cells.filter((c) => c.runtime === peer);
					expect({ peer, models: cells.map((c) => c.model).sort() }).toEqual({
						peer,
						models: ["floor", "floor-post", "mlp-ts"],
					});
					for (const cell of cells) expect(cell.stats.statusCodes).toEqual({ "200": 40 });
					expect(results.environment.runtimes[peer]).toMatch(
						/^(node|bun|deno) \d+\.\d+\.\d+ \(no framework\)$/,
					);
					const server = results.processes.find((p) => p.runtime === peer);
					expect({ peer, exit: server?.exitCode, killed: server?.killed }).toEqual({
						peer,
						exit: 0,
						killed: false,
					});
				}
				expect(results.skipped).toBeUndefined();
				const report = readFileSync(join(out, "report.md"), "utf8");
				for (const peer of bare)
					expect(report).toContain(`${peer} is a reference server (peers/bare/,`);
			},
			{ timeout: 120_000 },
		);
	},
);

describe.skipIf(!hasServer || !hasPython)("--peers fastapi without its packages", () => {
	test("one line naming the setup script, exit 1, before any server starts", async () => {
		// Python without site-packages: Debian's dist-packages (fastapi, numpy, ...) are not seen.
		const dir = tempDir("nopkg");
		const python = join(dir, "python3");
		writeFileSync(python, `#!/bin/sh\nexec ${PYTHON} -S "$@"\n`);
		chmodSync(python, 0o755);
		const result = await runCli(
			"bench/cli.ts",
			["--runtimes", "bun", "--peers", "fastapi", ...SHORT],
			{
				env: { FASTAPI_PYTHON: python },
			},
		);
		expect(result.code).toBe(1);
		expect(result.stderr.split("\n").filter(Boolean)).toHaveLength(1);
		expect(result.stderr).toContain("peers/fastapi/setup.sh");
		expect(result.stderr).toStartWith("bench: fastapi server exited (1) before it was ready");
	});
});
