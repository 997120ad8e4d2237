import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { FLOOR_POST_PATH } from "../../src/api/bench-routes.ts";
import { BODY_LIMITS } from "../../src/api/body.ts";
import { MODEL_CALLS_PATH } from "../../src/api/model-calls.ts";
import { STAGES, STAGES_PATH } from "../../src/api/stages.ts";
import {
	RUNTIMES,
	type RunningServer,
	type Runtime,
	runToExit,
	type ServerEnv,
	serveCommand,
	startServer,
	waitReady,
} from "../support/server.ts";

/**
 * BENCH_ROUTES and STAGES on real servers of Node, Bun and Deno started as users start them (Deno
 * with deno.json's permissions, which must let it read the variables): the bench's POST floor is
 * there with BENCH_ROUTES=1 only, /bench/stages with STAGES=1 only. The parser and the routes
 * themselves: tests/config.test.ts, tests/api/bench-routes.test.ts, tests/api/stages.test.ts.
 */

// Generous bounds for a loaded machine; never timings.
const STARTUP_MS = 60_000;
setDefaultTimeout(3 * STARTUP_MS);

const PASSENGER = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';

const floorPost = (url: string, body: string) =>
	fetch(`${url}${FLOOR_POST_PATH}`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body,
	});

/** Starts one server per runtime with `env`, runs `check` on each, stops them all. */
async function onEveryRuntime(
	env: ServerEnv,
	check: (server: RunningServer, runtime: Runtime) => Promise<void>,
): Promise<void> {
	const servers = await Promise.all(
		RUNTIMES.map((runtime) => startServer(runtime, { LOG_LEVEL: "info", ...env }, STARTUP_MS)),
	);
	try {
		await Promise.all(servers.map((server) => waitReady(server.url, STARTUP_MS)));
		for (const [i, server] of servers.entries()) await check(server, RUNTIMES[i] as Runtime);
	} finally {
		const exits = await Promise.all(servers.map((server) => server.stop()));
		expect(exits).toEqual(RUNTIMES.map(() => 0));
	}
}

describe("BENCH_ROUTES on every runtime", () => {
	test("BENCH_ROUTES=1: the route reads the body and answers; its limit applies", async () => {
		await onEveryRuntime({ BENCH_ROUTES: "1" }, async (server, runtime) => {
			const ok = await floorPost(server.url, PASSENGER);
			expect({ runtime, status: ok.status, body: await ok.json() }).toEqual({
				runtime,
				status: 200,
				body: { status: "ok" },
			});
			const big = await floorPost(server.url, "x".repeat(BODY_LIMITS.single + 1));
			expect({ runtime, status: big.status }).toEqual({ runtime, status: 413 });
			await big.arrayBuffer();
		});
	});

	test("BENCH_ROUTES=1 with metrics: /bench/model-calls counts the predictions, clears, needs API_KEY's token", async () => {
		const key = "bench-key-0123456789abcdef";
		const auth = { authorization: `Bearer ${key}` };
		await onEveryRuntime({ BENCH_ROUTES: "1", API_KEY: key }, async (server, runtime) => {
			const calls = (headers: Record<string, string> = auth, method = "GET") =>
				fetch(`${server.url}${MODEL_CALLS_PATH}`, { method, headers });
			// The service's own warm-up is not counted: nothing yet.
			expect({ runtime, body: await (await calls()).json() }).toEqual({
				runtime,
				body: { unit: "us", models: {} },
			});
			for (let i = 0; i < 3; i++) {
				const answer = await fetch(`${server.url}/predict/mlp-onnx`, {
					method: "POST",
					headers: { "content-type": "application/json", ...auth },
					body: PASSENGER,
				});
				expect({ runtime, status: answer.status }).toEqual({ runtime, status: 200 });
				await answer.arrayBuffer();
			}
			const { models } = (await (await calls()).json()) as {
				models: Record<string, { count: number; p50: number }>;
			};
			expect({ runtime, count: models["mlp-onnx"]?.count }).toEqual({ runtime, count: 3 });
			expect(models["mlp-onnx"]?.p50).toBeGreaterThan(0);
			const denied = await calls({});
			expect({ runtime, status: denied.status }).toEqual({ runtime, status: 401 });
			await denied.arrayBuffer();
			const cleared = await calls(auth, "DELETE");
			expect({ runtime, status: cleared.status }).toEqual({ runtime, status: 204 });
			expect((await (await calls()).json()) as unknown).toEqual({ unit: "us", models: {} });
		});
	});

	test("BENCH_ROUTES=1 with METRICS=off: no /bench/model-calls (nothing takes the times)", async () => {
		await onEveryRuntime({ BENCH_ROUTES: "1", METRICS: "off" }, async (server, runtime) => {
			const response = await fetch(`${server.url}${MODEL_CALLS_PATH}`);
			expect({ runtime, status: response.status }).toEqual({ runtime, status: 404 });
			await response.arrayBuffer();
		});
	});

	test("unset or 0: no such route (404)", async () => {
		for (const env of [{ BENCH_ROUTES: undefined }, { BENCH_ROUTES: "0" }]) {
			await onEveryRuntime(env, async (server, runtime) => {
				const response = await floorPost(server.url, PASSENGER);
				expect({ runtime, status: response.status }).toEqual({ runtime, status: 404 });
				await response.arrayBuffer();
			});
		}
	});

	test("any other value: one line naming it, exit 1", async () => {
		const results = await Promise.all(
			RUNTIMES.map((runtime) =>
				runToExit(serveCommand(runtime), { PORT: "0", BENCH_ROUTES: "yes" }, STARTUP_MS),
			),
		);
		for (const [i, result] of results.entries()) {
			const lines = `${result.stdout}${result.stderr}`.trim().split("\n");
			expect({ runtime: RUNTIMES[i], code: result.code, lines }).toEqual({
				runtime: RUNTIMES[i],
				code: 1,
				lines: ['titanic-serve: invalid BENCH_ROUTES="yes": must be "1" or "0"'],
			});
		}
	});
});

describe("STAGES on every runtime", () => {
	const predict = (url: string, path: string, body: string) =>
		fetch(`${url}${path}`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body,
		});

	test("STAGES=1: predictions timed by model, warm-up and refused ones left out; DELETE clears", async () => {
		await onEveryRuntime({ STAGES: "1", BENCH_ROUTES: undefined }, async (server, runtime) => {
			expect(server.stderr()).toContain("STAGES=1");
			const batch = `{"instances":[${PASSENGER},${PASSENGER}]}`;
			const requests: [string, string, number][] = [
				["/predict/gbdt-onnx", PASSENGER, 200],
				["/predict/gbdt-onnx", PASSENGER, 200],
				["/predict/gbdt-onnx", PASSENGER, 200],
				["/predict/mlp-ts/batch", batch, 200],
				["/predict/mlp-ts/batch", batch, 200],
				["/predict/gbdt-onnx", '{"Pclass":4}', 400],
				["/predict/gbdt-onnx", "{", 400],
			];
			for (const [path, body, status] of requests) {
				const response = await predict(server.url, path, body);
				expect({ runtime, path, status: response.status }).toEqual({ runtime, path, status });
				await response.arrayBuffer();
			}
			const shown = await fetch(`${server.url}${STAGES_PATH}`);
			expect({ runtime, status: shown.status }).toEqual({ runtime, status: 200 });
			const body = (await shown.json()) as {
				unit: string;
				stages: string[];
				models: Record<string, { count: number; p50: Record<string, number> }>;
			};
			const counts = Object.fromEntries(
				Object.entries(body.models).map(([id, model]) => [id, model.count]),
			);
			expect({ runtime, unit: body.unit, stages: body.stages, counts }).toEqual({
				runtime,
				unit: "us",
				stages: [...STAGES],
				counts: { "gbdt-onnx": 3, "mlp-ts": 2 },
			});
			for (const model of Object.values(body.models)) {
				expect(Object.values(model.p50).every((us) => Number.isFinite(us) && us >= 0)).toBe(true);
			}
			// STAGES alone does not mount the other bench route.
			const floor = await floorPost(server.url, PASSENGER);
			expect({ runtime, floor: floor.status }).toEqual({ runtime, floor: 404 });
			await floor.arrayBuffer();
			const cleared = await fetch(`${server.url}${STAGES_PATH}`, { method: "DELETE" });
			expect({ runtime, status: cleared.status, body: await cleared.text() }).toEqual({
				runtime,
				status: 204,
				body: "",
			});
			const after = (await (await fetch(`${server.url}${STAGES_PATH}`)).json()) as {
				models: object;
			};
			expect({ runtime, models: after.models }).toEqual({ runtime, models: {} });
		});
	});

	test("STAGES=1 with API_KEY: both stage routes need the bearer token, as README says", async () => {
		const key = "stages-e2e-key-0123456789";
		await onEveryRuntime({ STAGES: "1", API_KEY: key }, async (server, runtime) => {
			for (const method of ["GET", "DELETE"]) {
				const refused = await fetch(`${server.url}${STAGES_PATH}`, { method });
				await refused.arrayBuffer();
				const allowed = await fetch(`${server.url}${STAGES_PATH}`, {
					method,
					headers: { authorization: `Bearer ${key}` },
				});
				await allowed.arrayBuffer();
				expect({ runtime, method, refused: refused.status, allowed: allowed.status }).toEqual({
					runtime,
					method,
					refused: 401,
					allowed: method === "GET" ? 200 : 204,
				});
			}
		});
	});

	test("STAGES=yes: one line naming it, exit 1", async () => {
		const results = await Promise.all(
			RUNTIMES.map((runtime) =>
				runToExit(serveCommand(runtime), { PORT: "0", STAGES: "yes" }, STARTUP_MS),
			),
		);
		for (const [i, result] of results.entries()) {
			const lines = `${result.stdout}${result.stderr}`.trim().split("\n");
			expect({ runtime: RUNTIMES[i], code: result.code, lines }).toEqual({
				runtime: RUNTIMES[i],
				code: 1,
				lines: ['titanic-serve: invalid STAGES="yes": must be "1" or "0"'],
			});
		}
	});
});
