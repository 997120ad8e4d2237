import { afterEach, describe, expect, setDefaultTimeout, setSystemTime, test } from "bun:test";
import { createLogger } from "../../src/logger.ts";
import type { WorkerExit } from "../../src/serve/runtime.ts";
import { type SupervisorRuntime, supervise } from "../../src/serve/supervisor.ts";

/**
 * The supervisor against a fake runtime whose workers become ready and die on command: the same
 * logic serves Node and Bun child processes and Deno worker threads (which cannot be killed from
 * outside, so this is where their crash-after-ready restart is covered).
 */

interface FakeWorker {
	readonly index: number;
	stopRequested: boolean;
	becomeReady(): void;
	die(exit: WorkerExit): void;
}

function fakeSupervision(workers: number, workerDrainTimeoutMs = 60_000) {
	const started: FakeWorker[] = [];
	const exitCodes: number[] = [];
	const lines: string[] = [];
	let requestShutdown: (reason: string) => void = () => {};
	const runtime: SupervisorRuntime = {
		name: "fake",
		startWorker(index) {
			let becomeReady = () => {};
			let die = (_exit: WorkerExit) => {};
			const ready = new Promise<void>((resolve) => {
				becomeReady = resolve;
			});
			const exited = new Promise<WorkerExit>((resolve) => {
				die = resolve;
			});
			const worker: FakeWorker = { index, stopRequested: false, becomeReady, die };
			started.push(worker);
			return {
				stop: () => {
					worker.stopRequested = true;
				},
				ready,
				exited,
			};
		},
		onShutdownRequest(stop) {
			requestShutdown = stop;
		},
		exit(code) {
			exitCodes.push(code);
			return undefined as never;
		},
	};
	const logger = createLogger("info", (line) => lines.push(line));
	supervise(runtime, { workers, host: "127.0.0.1", port: 3000 }, logger, workerDrainTimeoutMs);
	return {
		started,
		exitCodes,
		log: () => lines.join("\n"),
		/** The most recently started copy of worker `index`. */
		latest: (index: number) => started.findLast((w) => w.index === index) as FakeWorker,
		requestShutdown: (reason: string) => requestShutdown(reason),
	};
}

/**
 * Waits for the supervisor's promise callbacks and timers; generous, as a loaded machine is slow.
 * performance.now(), unlike Date.now(), is not moved by setSystemTime.
 */
async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
	const deadline = performance.now() + timeoutMs;
	while (!condition()) {
		if (performance.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
		await Bun.sleep(5);
	}
}

const KILLED: WorkerExit = { code: null, signal: "SIGKILL" };
const CRASHED: WorkerExit = { code: 1, signal: null };

setDefaultTimeout(60_000);
afterEach(() => setSystemTime());

describe("a worker that dies after it was ready", () => {
	test("is restarted, and a death by signal is reported by the signal's name", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.latest(1).die(KILLED);
		await until(() => s.started.length === 3);
		expect(s.started.map((w) => w.index)).toEqual([1, 2, 1]);
		expect(s.log()).toContain("worker 1 was killed by SIGKILL; restarting it in 100 ms");
		expect(s.exitCodes).toEqual([]);
		expect(s.latest(2).stopRequested).toBe(false);
	});

	test("is restarted however long it had been up, with an exit status reported as such", async () => {
		const s = fakeSupervision(2);
		s.latest(1).becomeReady();
		await Bun.sleep(0);
		setSystemTime(new Date(Date.now() + 3_600_000));
		s.latest(1).die(CRASHED);
		await until(() => s.started.length === 3);
		expect(s.log()).toContain("worker 1 exited with 1; restarting it in 100 ms");
		expect(s.exitCodes).toEqual([]);
	});

	test("keeps crashing: the restart delay doubles, and resets once it stayed up", async () => {
		const s = fakeSupervision(2);
		const crashAfterReady = async (stayUpMs: number) => {
			const count = s.started.length;
			s.latest(1).becomeReady();
			await Bun.sleep(0);
			if (stayUpMs > 0) setSystemTime(new Date(Date.now() + stayUpMs));
			s.latest(1).die(CRASHED);
			await until(() => s.started.length === count + 1);
		};
		await crashAfterReady(0);
		await crashAfterReady(0);
		await crashAfterReady(0);
		await crashAfterReady(3_600_000);
		const delays = [...s.log().matchAll(/restarting it in (\d+) ms/g)].map((m) => Number(m[1]));
		expect(delays).toEqual([100, 200, 400, 100]);
	});
});

describe("a worker that dies before it was ready", () => {
	test("failed to start: the others are stopped, none restarted, and the process exits 1", async () => {
		const s = fakeSupervision(3);
		s.latest(2).becomeReady();
		s.latest(1).die(CRASHED);
		await until(() => s.latest(2).stopRequested && s.latest(3).stopRequested);
		expect(s.log()).toContain(
			"worker 1 failed to start (it exited with 1): stopping the workers (2 running)",
		);
		expect(s.exitCodes).toEqual([]);
		s.latest(2).die({ code: 0, signal: null });
		s.latest(3).die({ code: null, signal: "SIGTERM" });
		await until(() => s.exitCodes.length > 0);
		expect(s.exitCodes).toEqual([1]);
		expect(s.started).toHaveLength(3);
	});

	test("a replacement that dies before it is ready is restarted, its backoff growing", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.latest(1).die(KILLED);
		await until(() => s.started.length === 3);
		s.latest(1).die({ code: null, signal: "SIGSEGV" });
		await until(() => s.started.length === 4);
		expect(s.log()).toContain(
			"worker 1 was killed by SIGSEGV before it was ready; restarting it in 200 ms",
		);
		expect(s.log()).not.toContain("failed to start");
		expect(s.latest(2).stopRequested).toBe(false);
		expect(s.exitCodes).toEqual([]);
	});
});

describe("SIGTERM", () => {
	test("drains every worker, then exits 0", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.requestShutdown("SIGTERM");
		expect(s.started.every((w) => w.stopRequested)).toBe(true);
		s.latest(1).die({ code: 0, signal: null });
		await Bun.sleep(0);
		expect(s.exitCodes).toEqual([]);
		s.latest(2).die({ code: 0, signal: null });
		await until(() => s.exitCodes.length > 0);
		expect(s.exitCodes).toEqual([0]);
	});

	test("during a restart backoff: exits 0 and the restart never happens", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.latest(1).die(KILLED);
		await until(() => s.log().includes("restarting it in 100 ms"));
		s.requestShutdown("SIGTERM");
		expect(s.log()).toContain("SIGTERM: stopping the workers (1 running)");
		s.latest(2).die({ code: 0, signal: null });
		await until(() => s.exitCodes.length > 0);
		expect(s.exitCodes).toEqual([0]);
		// Timers fire in deadline order: had the 100 ms restart been left armed, it would run first.
		await Bun.sleep(300);
		expect(s.started).toHaveLength(2);
	});

	test("with every worker in its backoff: exits 0 at once", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.latest(1).die(KILLED);
		s.latest(2).die(KILLED);
		await until(() => (s.log().match(/restarting it/g) ?? []).length === 2);
		s.requestShutdown("SIGTERM");
		expect(s.exitCodes).toEqual([0]);
		await Bun.sleep(300);
		expect(s.started).toHaveLength(2);
	});

	test("while a replacement is starting: it is stopped too, and the exit is 0", async () => {
		const s = fakeSupervision(2);
		for (const worker of s.started) worker.becomeReady();
		s.latest(1).die(KILLED);
		await until(() => s.started.length === 3);
		s.requestShutdown("SIGTERM");
		expect(s.latest(1).stopRequested).toBe(true);
		// Asked to stop before it installed its own handler, it dies of the signal.
		s.latest(1).die({ code: null, signal: "SIGTERM" });
		s.latest(2).die({ code: 0, signal: null });
		await until(() => s.exitCodes.length > 0);
		expect(s.exitCodes).toEqual([0]);
		expect(s.log()).not.toContain("failed to start");
	});

	test("a worker that never stops is abandoned after the drain timeout", async () => {
		const s = fakeSupervision(2, 0);
		for (const worker of s.started) worker.becomeReady();
		s.requestShutdown("SIGTERM");
		await until(() => s.exitCodes.length > 0);
		expect(s.exitCodes).toEqual([0]);
	});
});
