import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseSamples, untilReadyLogged } from "../support/metrics-text.ts";
import { RUNTIMES, type ServerEnv, startServer } from "../support/server.ts";

/**
 * GET /metrics on real servers of Node, Bun and Deno: exact counts after a known sequence of
 * requests, the text clean under Prometheus' own checker, METRICS=off, and API_KEY.
 */

const STARTUP_MS = 60_000;
setDefaultTimeout(3 * STARTUP_MS);

const KEY = "metrics-e2e-key-0123456789";
const PASSENGER = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
const MODEL_IDS = ["mlp-onnx", "mlp-ts", "gbdt-onnx", "gbdt-ts"];

const PROMTOOL = Bun.which("promtool");
if (!PROMTOOL) {
	console.log(
		"metrics.test.ts: promtool checks skipped, promtool not found (install it: apt-get install prometheus)",
	);
}

async function withServer(
	runtime: (typeof RUNTIMES)[number],
	env: ServerEnv,
	use: (url: string) => Promise<void>,
): Promise<void> {
	const server = await startServer(runtime, env, STARTUP_MS);
	try {
		await untilReadyLogged(server, STARTUP_MS);
		await use(server.url);
	} finally {
		expect({ runtime, exit: await server.stop() }).toEqual({ runtime, exit: 0 });
	}
}

const send = async (url: string, path: string, body?: unknown, headers = {}) => {
	const init: RequestInit =
		body === undefined
			? { headers }
			: {
					method: "POST",
					headers: { "content-type": "application/json", ...headers },
					body: typeof body === "string" ? body : JSON.stringify(body),
				};
	const response = await fetch(`${url}${path}`, init);
	await response.arrayBuffer();
	return response.status;
};

/** The known sequence and the status each request must get. */
async function knownSequence(url: string): Promise<number[]> {
	const statuses: number[] = [];
	for (let i = 0; i < 3; i++) statuses.push(await send(url, "/predict/gbdt-onnx", PASSENGER));
	const batch = { instances: Array.from({ length: 5 }, () => PASSENGER) };
	statuses.push(await send(url, "/predict/mlp-ts/batch", batch));
	statuses.push(await send(url, "/predict/gbdt-ts", { ...PASSENGER, Pclass: "3" }));
	statuses.push(await send(url, "/predict/resnet-50", PASSENGER));
	statuses.push(await send(url, "/health"), await send(url, "/health"));
	statuses.push(await send(url, "/wp-login.php"));
	return statuses;
}

/** Every inference and HTTP series after the known sequence, exactly. */
function expectedCounts(): Map<string, number> {
	const expected = new Map<string, number>();
	const counts: Record<string, { success: number; failure: number; instances: number }> = {
		"mlp-onnx": { success: 0, failure: 0, instances: 0 },
		"mlp-ts": { success: 1, failure: 0, instances: 5 },
		"gbdt-onnx": { success: 3, failure: 0, instances: 3 },
		"gbdt-ts": { success: 0, failure: 1, instances: 0 },
	};
	for (const model of MODEL_IDS) {
		const { success, failure, instances } = counts[model] as (typeof counts)[string];
		const m = `model="${model}"`;
		expected.set(`inference_requests_total{${m},outcome="success"}`, success);
		expected.set(`inference_requests_total{${m},outcome="failure"}`, failure);
		expected.set(`inference_request_duration_seconds_count{${m}}`, success);
		expected.set(`inference_compute_duration_seconds_count{${m}}`, success);
		expected.set(`inference_batch_size_count{${m}}`, success);
		expected.set(`inference_batch_size_sum{${m}}`, instances);
	}
	const http = (method: string, route: string, status: number) =>
		`http_requests_total{method="${method}",route="${route}",status="${status}"}`;
	expected.set(http("POST", "/predict/:model", 200), 3);
	expected.set(http("POST", "/predict/:model/batch", 200), 1);
	expected.set(http("POST", "/predict/:model", 400), 1);
	expected.set(http("POST", "/predict/:model", 404), 1);
	expected.set(http("GET", "/health", 200), 2);
	expected.set(http("GET", "unmatched", 404), 1);
	return expected;
}

const COUNTED = /^(inference_requests_total|inference_\w+_(count|sum)|http_requests_total)\{/;

async function promtoolProblems(text: string): Promise<string> {
	const child = Bun.spawn([PROMTOOL as string, "check", "metrics"], {
		stdin: new Blob([text]),
		stdout: "pipe",
		stderr: "pipe",
	});
	const [out, err, code] = await Promise.all([
		new Response(child.stdout).text(),
		new Response(child.stderr).text(),
		child.exited,
	]);
	return code === 0 ? "" : `exit ${code}: ${out}${err}`;
}

describe.each(RUNTIMES)("%s", (runtime) => {
	test("exact counts after a known sequence; clean under promtool check metrics", async () => {
		await withServer(runtime, {}, async (url) => {
			expect(await knownSequence(url)).toEqual([200, 200, 200, 200, 400, 404, 200, 200, 404]);
			const response = await fetch(`${url}/metrics`);
			expect(response.status).toBe(200);
			expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
			const text = await response.text();
			const samples = parseSamples(text);
			const counted = new Map([...samples].filter(([series]) => COUNTED.test(series)));
			const inferenceSums = [...counted].filter(([s]) => /_duration_seconds_sum/.test(s));
			for (const [series] of inferenceSums) counted.delete(series);
			expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(expectedCounts()));
			expect(
				samples.get('inference_request_duration_seconds_sum{model="gbdt-onnx"}'),
			).toBeGreaterThan(0);
			for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total"]) {
				expect({ name, positive: (samples.get(name) ?? 0) > 0 }).toEqual({ name, positive: true });
			}
			expect(samples.get("process_start_time_seconds")).toBeLessThanOrEqual(Date.now() / 1000);
			if (PROMTOOL) expect(await promtoolProblems(text)).toBe("");
		});
	});

	test("METRICS=off: /metrics is a 404, predictions are answered as ever", async () => {
		await withServer(runtime, { METRICS: "off" }, async (url) => {
			expect(await send(url, "/metrics")).toBe(404);
			expect(await send(url, "/predict/gbdt-ts", PASSENGER)).toBe(200);
		});
	});

	test("API_KEY: /metrics needs the bearer token", async () => {
		await withServer(runtime, { API_KEY: KEY }, async (url) => {
			expect(await send(url, "/metrics")).toBe(401);
			expect(await send(url, "/metrics", undefined, { authorization: "Bearer wrong" })).toBe(401);
			const response = await fetch(`${url}/metrics`, {
				headers: { authorization: `Bearer ${KEY}` },
			});
			expect(response.status).toBe(200);
			const samples = parseSamples(await response.text());
			expect(samples.get('http_requests_total{method="GET",route="/metrics",status="401"}')).toBe(
				2,
			);
		});
	});
});
