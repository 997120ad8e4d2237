import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app.ts";
import type { Registry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";
import { warmRequestPath } from "../../src/serve/warm-up.ts";
import { titanicRegistry } from "../support/registry.ts";

const KEY = "metrics-key-0123456789";
const PASSENGER = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
const logger = createLogger("silent");
const registry = titanicRegistry();

const postJson = (body: unknown, headers: Record<string, string> = {}) => ({
	method: "POST",
	headers: { "content-type": "application/json", ...headers },
	body: typeof body === "string" ? body : JSON.stringify(body),
});

/** Every sample of the scrape whose name starts with one of `prefixes`, value by series. */
async function scrape(
	app: ReturnType<typeof createApp>,
	headers: Record<string, string> = {},
): Promise<Map<string, number>> {
	const response = await app.request("/metrics", { headers });
	expect(response.status).toBe(200);
	const text = await response.text();
	return new Map(
		text
			.split("\n")
			.filter((line) => line !== "" && !line.startsWith("#"))
			.map((line) => {
				const at = line.lastIndexOf(" ");
				return [line.slice(0, at), Number(line.slice(at + 1))];
			}),
	);
}

const http = (method: string, route: string, status: number) =>
	`http_requests_total{method="${method}",route="${route}",status="${status}"}`;

describe("recording on the request path", () => {
	test("warm-up requests are not counted; a request during warm-up is", async () => {
		const app = createApp(registry(), { logger, metrics: true });
		const warming = warmRequestPath(app, registry().ids, { rounds: 3 });
		await app.request("/health");
		await warming;
		const samples = await scrape(app);
		for (const id of registry().ids) {
			expect(samples.get(`inference_requests_total{model="${id}",outcome="success"}`)).toBe(0);
		}
		expect([...samples.keys()].filter((k) => k.startsWith("http_requests_total"))).toEqual([
			http("GET", "/health", 200),
		]);
	});

	test("successes: counts, both durations and the batch size, by model", async () => {
		const app = createApp(registry(), { logger, metrics: true });
		for (let i = 0; i < 3; i++) {
			expect((await app.request("/predict/gbdt-onnx", postJson(PASSENGER))).status).toBe(200);
		}
		const batch = { instances: Array.from({ length: 5 }, () => PASSENGER) };
		expect((await app.request("/predict/mlp-ts/batch", postJson(batch))).status).toBe(200);
		const samples = await scrape(app);
		expect(samples.get('inference_requests_total{model="gbdt-onnx",outcome="success"}')).toBe(3);
		expect(samples.get('inference_requests_total{model="mlp-ts",outcome="success"}')).toBe(1);
		for (const name of [
			"inference_request_duration_seconds",
			"inference_compute_duration_seconds",
		]) {
			expect(samples.get(`${name}_count{model="gbdt-onnx"}`)).toBe(3);
			expect(samples.get(`${name}_bucket{model="gbdt-onnx",le="+Inf"}`)).toBe(3);
			expect(samples.get(`${name}_sum{model="gbdt-onnx"}`)).toBeGreaterThan(0);
		}
		// The model call is part of the request.
		expect(samples.get('inference_compute_duration_seconds_sum{model="gbdt-onnx"}')).toBeLessThan(
			samples.get('inference_request_duration_seconds_sum{model="gbdt-onnx"}') ?? 0,
		);
		expect(samples.get('inference_batch_size_sum{model="mlp-ts"}')).toBe(5);
		expect(samples.get('inference_batch_size_bucket{model="mlp-ts",le="4"}')).toBe(0);
		expect(samples.get('inference_batch_size_bucket{model="mlp-ts",le="8"}')).toBe(1);
		expect(samples.get('inference_batch_size_sum{model="gbdt-onnx"}')).toBe(3);
		expect(samples.get(http("POST", "/predict/:model", 200))).toBe(3);
		expect(samples.get(http("POST", "/predict/:model/batch", 200))).toBe(1);
	});

	test("failures: bad bodies and a failing model call; an unknown model counts under none", async () => {
		const exploding = {
			backend: "typescript" as const,
			predict(): Float32Array {
				throw new Error("model exploded");
			},
		};
		const models = registry()
			.list()
			.map((m) => (m.id === "gbdt-ts" ? { ...m, executor: exploding } : m));
		const broken: Registry = {
			...registry(),
			get: (id) => models.find((m) => m.id === id),
			list: () => models,
		};
		const app = createApp(broken, { logger, metrics: true });
		expect((await app.request("/predict/mlp-ts", postJson("{"))).status).toBe(400);
		expect((await app.request("/predict/mlp-ts", postJson({ ...PASSENGER, age: 3 }))).status).toBe(
			400,
		);
		expect((await app.request("/predict/mlp-ts", { method: "POST", body: "x" })).status).toBe(415);
		expect((await app.request("/predict/gbdt-ts", postJson(PASSENGER))).status).toBe(500);
		expect((await app.request("/predict/nope", postJson(PASSENGER))).status).toBe(404);
		const samples = await scrape(app);
		expect(samples.get('inference_requests_total{model="mlp-ts",outcome="failure"}')).toBe(3);
		expect(samples.get('inference_requests_total{model="mlp-ts",outcome="success"}')).toBe(0);
		expect(samples.get('inference_requests_total{model="gbdt-ts",outcome="failure"}')).toBe(1);
		expect(samples.get('inference_request_duration_seconds_count{model="mlp-ts"}')).toBe(0);
		expect([...samples.keys()].some((k) => k.includes('model="nope"'))).toBe(false);
		expect(samples.get(http("POST", "/predict/:model", 400))).toBe(2);
		expect(samples.get(http("POST", "/predict/:model", 415))).toBe(1);
		expect(samples.get(http("POST", "/predict/:model", 500))).toBe(1);
		expect(samples.get(http("POST", "/predict/:model", 404))).toBe(1);
	});

	test("http_requests_total: route patterns, never raw paths; 405s; /metrics counts itself", async () => {
		const app = createApp(registry(), { logger, metrics: true });
		const requests: [string, RequestInit?][] = [
			["/health"],
			["/ready"],
			["/models"],
			["/models/gbdt-ts"],
			["/models/nope"],
			["/health", { method: "DELETE" }],
			["/wp-login.php"],
			["/predict/gbdt-ts/extra/segments", postJson(PASSENGER)],
			["/health", { method: "PROPFIND" }],
			["/metrics"],
		];
		for (const [path, init] of requests) await app.request(path, init);
		const counted = [...(await scrape(app))].filter(([k]) => k.startsWith("http_requests_total"));
		expect(counted).toEqual([
			[http("GET", "/health", 200), 1],
			[http("GET", "/ready", 503), 1],
			[http("GET", "/models", 200), 1],
			[http("GET", "/models/:model", 200), 1],
			[http("GET", "/models/:model", 404), 1],
			[http("DELETE", "/health", 405), 1],
			[http("GET", "unmatched", 404), 1],
			[http("POST", "unmatched", 404), 1],
			[http("other", "/health", 405), 1],
			// The scrape is counted once it is answered: the first scrape sees the one before it.
			[http("GET", "/metrics", 200), 1],
		]);
	});
});

describe("with API_KEY", () => {
	const auth = { authorization: `Bearer ${KEY}` };

	test("/metrics needs the token; 401s count under the route they were for", async () => {
		const app = createApp(registry(), { logger, metrics: true, apiKey: KEY });
		expect((await app.request("/metrics")).status).toBe(401);
		expect((await app.request("/predict/gbdt-ts", postJson(PASSENGER))).status).toBe(401);
		expect((await app.request("/predict/a/b/c", postJson(PASSENGER))).status).toBe(401);
		expect((await app.request("/predict/gbdt-ts", postJson(PASSENGER, auth))).status).toBe(200);
		const samples = await scrape(app, auth);
		expect(samples.get(http("GET", "/metrics", 401))).toBe(1);
		expect(samples.get(http("POST", "/predict/:model", 401))).toBe(1);
		expect(samples.get(http("POST", "unmatched", 401))).toBe(1);
		expect(samples.get(http("POST", "/predict/:model", 200))).toBe(1);
		// A request refused before its model was looked at is no inference request.
		expect(samples.get('inference_requests_total{model="gbdt-ts",outcome="success"}')).toBe(1);
		expect(samples.get('inference_requests_total{model="gbdt-ts",outcome="failure"}')).toBe(0);
	});
});

describe("METRICS=off", () => {
	test("no /metrics route and no recording code on the request path", () => {
		const on = createApp(registry(), { logger, metrics: true });
		const off = createApp(registry(), { logger, metrics: false });
		const routes = (app: typeof on) => app.routes.map((r) => `${r.method} ${r.path}`);
		expect(routes(on).filter((r) => !routes(off).includes(r))).toEqual(["GET /metrics"]);
		expect(routes(off).filter((r) => !routes(on).includes(r))).toEqual([]);
		// The code itself: fetch is Hono's own, the prediction handler the one that records nothing.
		const source = (f: unknown) => String(f);
		expect(source(on.fetch)).toContain("WARM_UP_ENV");
		expect(source(off.fetch)).not.toContain("WARM_UP_ENV");
		const predict = (app: typeof on) =>
			app.routes.find((r) => r.method === "POST" && r.path === "/predict/:model")?.handler;
		expect(source(predict(on))).toContain("markRoute");
		for (const word of ["markRoute", "record", "WARM_UP_ENV"]) {
			expect(source(predict(off))).not.toContain(word);
		}
	});

	test("/metrics is a 404 like any unknown path", async () => {
		const off = createApp(registry(), { logger, metrics: false });
		const response = await off.request("/metrics");
		expect(response.status).toBe(404);
		expect(await response.json()).toEqual({
			error: { code: "not_found", message: "no route GET /metrics" },
		});
	});
});
