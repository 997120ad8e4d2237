import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { freePort } from "../../bench/runtimes.ts";
import { RUNTIMES, runToExit, serveCommand, startServer } from "../support/server.ts";

/** WORKERS=N: N copies of the server share one port on every runtime, and stop together. */

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
		await Bun.sleep(25);
	}
}

/** Process ids whose parent is `pid` (Linux). */
function childrenOf(pid: number): number[] {
	try {
		return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
			.split(" ")
			.filter(Boolean)
			.map(Number);
	} catch {
		return [];
	}
}

const passenger = { Pclass: 1, Sex: "female", Age: 30, SibSp: 0, Parch: 0, Fare: 80 };

describe.each(RUNTIMES)("%s with WORKERS=2", (runtime) => {
	test("two workers serve one port and all stop on SIGTERM", async () => {
		const port = await freePort();
		const server = await startServer(runtime, { PORT: String(port), WORKERS: "2" }, 30_000);
		await until(
			() => (server.stderr().match(/worker \d: info: ready/g) ?? []).length === 2,
			30_000,
		);
		expect(server.stderr()).toContain("starting 2 workers");

		// New connections each time, so the kernel spreads them across both listeners.
		const answers = await Promise.all(
			Array.from({ length: 20 }, () =>
				fetch(`http://127.0.0.1:${port}/predict/gbdt-onnx`, {
					method: "POST",
					headers: { "content-type": "application/json", connection: "close" },
					body: JSON.stringify(passenger),
				}).then(async (r) => ({
					status: r.status,
					body: (await r.json()) as { prediction: number },
				})),
			),
		);
		for (const answer of answers)
			expect(answer).toMatchObject({ status: 200, body: { prediction: 1 } });

		const workerPids = runtime === "deno" ? [] : childrenOf(server.process.pid as number);
		if (runtime !== "deno") expect(workerPids).toHaveLength(2);
		expect(await server.stop()).toBe(0);
		expect(server.stderr().match(/worker \d: info: stopped/g) ?? []).toHaveLength(2);
		for (const pid of workerPids) expect(() => process.kill(pid, 0)).toThrow();
	}, 60_000);

	test("a worker that cannot start stops the whole server with status 1", async () => {
		const port = await freePort();
		const result = await runToExit(serveCommand(runtime), {
			PORT: String(port),
			WORKERS: "2",
			MODELS_DIR: "models-missing",
		});
		expect(result.code).toBe(1);
		expect(result.stderr).toContain("cannot load models: models-missing: cannot read (ENOENT)");
	}, 30_000);
});

/** `count` predictions, each on a new connection so the kernel spreads them across listeners. */
async function predictStatuses(port: number, count: number): Promise<number[]> {
	return Promise.all(
		Array.from({ length: count }, () =>
			fetch(`http://127.0.0.1:${port}/predict/gbdt-onnx`, {
				method: "POST",
				headers: { "content-type": "application/json", connection: "close" },
				body: JSON.stringify(passenger),
			}).then((r) => r.status),
		),
	);
}

const readyLines = (server: { stderr(): string }) =>
	(server.stderr().match(/worker \d: info: ready/g) ?? []).length;

describe.each(RUNTIMES)("%s with WORKERS=2 on a port another server holds", (runtime) => {
	test("exits 1 with one line instead of joining that server's socket", async () => {
		const port = await freePort();
		// The holder shares its socket (SO_REUSEPORT), which is what workers could join.
		const holder = await startServer("node", { PORT: String(port), WORKERS: "2" }, 60_000);
		try {
			await until(() => readyLines(holder) === 2, 60_000);
			const result = await runToExit(serveCommand(runtime), { PORT: String(port), WORKERS: "2" });
			expect(result.code).toBe(1);
			expect(result.stderr.trim().split("\n")).toEqual([
				`titanic-serve: cannot listen on 127.0.0.1:${port}: address already in use`,
			]);
			expect(readyLines(holder)).toBe(2);
		} finally {
			await holder.stop();
		}
	}, 120_000);
});

describe.each(["node", "bun"] as const)("%s supervisor with WORKERS=2", (runtime) => {
	test("a worker killed after it was ready is restarted, and SIGTERM still stops all", async () => {
		const port = await freePort();
		const server = await startServer(runtime, { PORT: String(port), WORKERS: "2" }, 60_000);
		await until(() => readyLines(server) === 2, 60_000);
		const supervisorPid = server.process.pid as number;
		const [victim] = childrenOf(supervisorPid);
		process.kill(victim as number, "SIGKILL");

		await until(() => /was killed by SIGKILL; restarting it/.test(server.stderr()), 60_000);
		// The dead worker's socket is closed by now: the survivor takes every connection.
		expect(await predictStatuses(port, 10)).toEqual(Array(10).fill(200));
		await until(() => readyLines(server) === 3, 60_000);
		expect(await predictStatuses(port, 20)).toEqual(Array(20).fill(200));
		expect(server.stderr()).not.toContain("failed to start");

		const workerPids = childrenOf(supervisorPid);
		expect(workerPids).toHaveLength(2);
		expect(workerPids).not.toContain(victim);
		expect(await server.stop()).toBe(0);
		expect(server.stderr().match(/worker \d: info: stopped/g) ?? []).toHaveLength(2);
		for (const pid of workerPids) expect(() => process.kill(pid, 0)).toThrow();
	}, 180_000);

	test("workers whose supervisor was killed outright drain and exit, freeing the port", async () => {
		const port = await freePort();
		const server = await startServer(runtime, { PORT: String(port), WORKERS: "2" }, 60_000);
		await until(() => readyLines(server) === 2, 60_000);
		const workerPids = childrenOf(server.process.pid as number);
		expect(workerPids).toHaveLength(2);
		server.process.kill("SIGKILL");

		const gone = (pid: number) => {
			try {
				process.kill(pid, 0);
				return false;
			} catch {
				return true;
			}
		};
		try {
			await until(() => workerPids.every(gone), 60_000);
		} finally {
			for (const pid of workerPids.filter((pid) => !gone(pid))) process.kill(pid, "SIGKILL");
		}
		expect(server.stderr().match(/worker \d: info: supervisor gone: draining/g) ?? []).toHaveLength(
			2,
		);
	}, 120_000);
});

test("WORKERS must be 1-64 or auto, and needs a fixed PORT", async () => {
	for (const [env, message] of [
		[{ WORKERS: "0" }, 'invalid WORKERS="0"'],
		[{ WORKERS: "two" }, 'invalid WORKERS="two"'],
		[{ WORKERS: "2", PORT: "0" }, "workers need a fixed port"],
	] as const) {
		const result = await runToExit(serveCommand("node"), env);
		expect(result.code).toBe(1);
		expect(result.stderr.trim().split("\n")).toHaveLength(1);
		expect(result.stderr).toContain(message);
	}
});
