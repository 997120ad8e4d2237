import { describe, expect, test } from "bun:test";
import { RUNTIMES, type RunningServer, startServer, waitReady } from "../support/server.ts";

/**
 * The real server of each runtime, started as users start it: with API_KEY set it must get
 * through its own warm-up and then enforce the key; at LOG_LEVEL=debug it must log every real
 * request (the /ready polls included) and none of its warm-up requests.
 */

const KEY = "real-server-key-0123456789";
const PASSENGER = JSON.stringify({
	Pclass: 3,
	Sex: "male",
	Age: 22,
	SibSp: 1,
	Parch: 0,
	Fare: 7.25,
});
const JSON_TYPE = { "content-type": "application/json" };
const STARTUP_MS = 30_000;

const predict = (url: string, headers: Record<string, string> = {}) =>
	fetch(`${url}/predict/gbdt-onnx`, {
		method: "POST",
		headers: { ...JSON_TYPE, ...headers },
		body: PASSENGER,
	});

/** Polls /ready until 200, returning the status of every poll: each is a real request. */
async function pollReady(url: string): Promise<number[]> {
	const statuses: number[] = [];
	const deadline = Date.now() + STARTUP_MS;
	while (Date.now() < deadline) {
		const response = await fetch(`${url}/ready`);
		await response.arrayBuffer();
		statuses.push(response.status);
		if (response.status === 200) return statuses;
		await Bun.sleep(20);
	}
	throw new Error(`${url} not ready after ${STARTUP_MS} ms`);
}

async function until(condition: () => boolean, what: string): Promise<void> {
	const deadline = Date.now() + STARTUP_MS;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await Bun.sleep(20);
	}
}

async function withServer(
	runtime: (typeof RUNTIMES)[number],
	env: Record<string, string>,
	use: (server: RunningServer) => Promise<void>,
): Promise<void> {
	const server = await startServer(runtime, env, STARTUP_MS);
	try {
		await use(server);
	} finally {
		expect({ runtime, exit: await server.stop() }).toEqual({ runtime, exit: 0 });
	}
}

describe.each(RUNTIMES)("%s", (runtime) => {
	test(
		"with API_KEY set, warm-up succeeds and predictions need the token",
		async () => {
			await withServer(runtime, { API_KEY: KEY }, async (server) => {
				await waitReady(server.url, STARTUP_MS);
				expect(server.stderr()).not.toContain("warm-up failed");

				const anonymous = await predict(server.url);
				expect(anonymous.status).toBe(401);
				expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="titanic"');
				expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe(
					"unauthorized",
				);

				const authorized = await predict(server.url, { authorization: `Bearer ${KEY}` });
				expect(authorized.status).toBe(200);
				expect(((await authorized.json()) as { model: string }).model).toBe("gbdt-onnx");
			});
		},
		STARTUP_MS * 2,
	);

	test(
		"at LOG_LEVEL=debug, one line per real request and none for warm-up",
		async () => {
			await withServer(runtime, { LOG_LEVEL: "debug" }, async (server) => {
				const polls = await pollReady(server.url);
				expect((await predict(server.url)).status).toBe(200);
				// A debug line is written before its response is sent; reading the pipe may lag.
				await until(() => server.stderr().includes("POST /predict/"), "the prediction's line");

				const debugLines = server
					.stderr()
					.split("\n")
					.filter((l) => l.startsWith("debug: "));
				const requests = debugLines.map((l) => l.replace(/ \d+\.\d{3} ms$/, ""));
				expect(requests).toEqual([
					...polls.map((status) => `debug: GET /ready ${status}`),
					"debug: POST /predict/gbdt-onnx 200",
				]);
				expect(server.stderr()).toMatch(/info: warmed the request path: \d+ requests in \d+ ms/);
			});
		},
		STARTUP_MS * 2,
	);
});
