import { describe, expect, test } from "bun:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { BODY_LIMITS } from "../../src/api/body.ts";
import { WARM_UP_ENV } from "../../src/api/request-log.ts";
import { STAGES, STAGES_PATH, StageTimes } from "../../src/api/stages.ts";
import { type AppOptions, createApp } from "../../src/app.ts";
import { createLogger } from "../../src/logger.ts";
import { warmRequestPath } from "../../src/serve/warm-up.ts";
import { parseSamples } from "../support/metrics-text.ts";
import { titanicRegistry } from "../support/registry.ts";

/**
 * STAGES=1 in-process, with the real models: predictions timed stage by stage and served at
 * /bench/stages, answered exactly as without it. Real servers: tests/serve/bench-routes.test.ts.
 */

const logger = createLogger("silent");
const PASSENGER = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
const PASSENGERS = [
	PASSENGER,
	{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
	{ Pclass: 2, Sex: "male", Age: null, SibSp: 0, Parch: 0, Fare: 13 },
	{ Pclass: 3, Sex: "female", SibSp: 4, Parch: 2, Fare: 31.275 },
	{ Pclass: 1, Sex: "male", Age: 120, SibSp: 20, Parch: 20, Fare: 10000 },
];
/** The stage names the bench reads (bench/results.ts), spelt out: a rename must fail here. */
const EIGHT_STAGES = [
	"route",
	"read",
	"parse",
	"validate",
	"encode",
	"infer",
	"serialise",
	"respond",
];

const registry = titanicRegistry({ warm: true });

const app = (options: Omit<AppOptions, "logger"> = {}) =>
	createApp(registry(), { logger, ...options });

const postJson = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
	method: "POST",
	headers: { "content-type": "application/json", ...headers },
	body: typeof body === "string" ? body : JSON.stringify(body),
});

interface ModelStages {
	count: number;
	p50: Record<string, number>;
	mean: Record<string, number>;
}
interface StagesBody {
	unit: string;
	stages: string[];
	models: Record<string, ModelStages>;
}

async function stagesOf(server: OpenAPIHono): Promise<StagesBody> {
	const response = await server.request(STAGES_PATH);
	expect(response.status).toBe(200);
	expect(response.headers.get("content-type")).toContain("application/json");
	return (await response.json()) as StagesBody;
}

/** Status, body text and headers (less the timing, which differs by nature) of a response. */
async function snapshot(response: Response) {
	const headers = Object.fromEntries(response.headers);
	delete headers["server-timing"];
	return { status: response.status, headers, body: await response.text() };
}

/** Every stage of every model a finite number of µs, not negative. */
function expectSound(body: StagesBody) {
	for (const [model, { p50, mean }] of Object.entries(body.models)) {
		for (const summary of [p50, mean]) {
			expect({ model, stages: Object.keys(summary) }).toEqual({ model, stages: EIGHT_STAGES });
			for (const [stage, us] of Object.entries(summary)) {
				const sound = Number.isFinite(us) && us >= 0;
				expect({ model, stage, us, sound }).toEqual({ model, stage, us, sound: true });
			}
		}
	}
}

/** A body of `size` bytes sent chunked (no Content-Length). */
function chunked(size: number): ReadableStream<Uint8Array> {
	let left = size;
	return new ReadableStream({
		pull(controller) {
			const n = Math.min(16 * 1024, left);
			controller.enqueue(new Uint8Array(n).fill(32));
			left -= n;
			if (left === 0) controller.close();
		},
	});
}

/** Requests every one of which is refused, each a new Request (a body is read once). */
const REFUSED: [string, () => [string, RequestInit]][] = [
	["malformed JSON", () => ["/predict/gbdt-onnx", postJson("{")]],
	["empty body", () => ["/predict/gbdt-onnx", postJson("")]],
	[
		"not UTF-8",
		() => [
			"/predict/gbdt-onnx",
			{
				method: "POST",
				headers: { "content-type": "application/json" },
				body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
			},
		],
	],
	["invalid field", () => ["/predict/gbdt-onnx", postJson({ ...PASSENGER, Pclass: 4 })]],
	["every field invalid", () => ["/predict/mlp-ts", postJson({ Pclass: "1", age: 3 })]],
	["extra key", () => ["/predict/mlp-ts", postJson({ ...PASSENGER, age: 3 })]],
	["not an object", () => ["/predict/mlp-ts", postJson([PASSENGER])]],
	[
		"Infinity from JSON",
		() => [
			"/predict/mlp-ts",
			postJson('{"Pclass":3,"Sex":"male","SibSp":0,"Parch":0,"Fare":1e309}'),
		],
	],
	[
		"batch too large",
		() => ["/predict/gbdt-ts/batch", postJson({ instances: Array(1001).fill(PASSENGER) })],
	],
	["empty batch", () => ["/predict/gbdt-ts/batch", postJson({ instances: [] })]],
	[
		"a bad one in a batch",
		() => [
			"/predict/gbdt-ts/batch",
			postJson({ instances: [PASSENGER, { ...PASSENGER, Sex: "x" }] }),
		],
	],
	[
		"text/plain",
		() => [
			"/predict/gbdt-onnx",
			{
				method: "POST",
				headers: { "content-type": "text/plain" },
				body: JSON.stringify(PASSENGER),
			},
		],
	],
	[
		"no content type",
		() => ["/predict/gbdt-onnx", { method: "POST", body: JSON.stringify(PASSENGER) }],
	],
	["gzip", () => ["/predict/gbdt-onnx", postJson(PASSENGER, { "content-encoding": "gzip" })]],
	[
		"too large, declared",
		() => ["/predict/gbdt-onnx", postJson("x".repeat(BODY_LIMITS.single + 1))],
	],
	[
		"too large, chunked",
		() => [
			"/predict/gbdt-onnx",
			{
				method: "POST",
				headers: { "content-type": "application/json" },
				body: chunked(BODY_LIMITS.single + 1),
				duplex: "half",
			} as RequestInit,
		],
	],
	["unknown model", () => ["/predict/nope", postJson(PASSENGER)]],
	["wrong method", () => ["/predict/gbdt-onnx", { method: "GET" }]],
];

describe("without the option", () => {
	test("/bench/stages does not exist: 404 not_found, for GET and DELETE", async () => {
		for (const server of [app(), app({ stages: false }), app({ metrics: true })]) {
			for (const method of ["GET", "DELETE"]) {
				const response = await server.request(STAGES_PATH, { method });
				expect({ method, status: response.status }).toEqual({ method, status: 404 });
				const body = (await response.json()) as { error: { code: string } };
				expect(body.error.code).toBe("not_found");
			}
		}
	});

	test("/bench/stages is not in the OpenAPI document either way", async () => {
		for (const server of [app(), app({ stages: true })]) {
			const document = (await (await server.request("/openapi.json")).json()) as {
				paths: Record<string, unknown>;
			};
			expect(Object.keys(document.paths)).not.toContain(STAGES_PATH);
		}
	});
});

describe("with the option", () => {
	test("behind API_KEY like the predictions: 401 without the token, 200 and 204 with it", async () => {
		const key = "k".repeat(16);
		const server = app({ stages: true, apiKey: key });
		for (const method of ["GET", "DELETE"]) {
			const refused = await server.request(STAGES_PATH, { method });
			expect({ method, status: refused.status }).toEqual({ method, status: 401 });
			const allowed = await server.request(STAGES_PATH, {
				method,
				headers: { authorization: `Bearer ${key}` },
			});
			expect({ method, status: allowed.status }).toEqual({
				method,
				status: method === "GET" ? 200 : 204,
			});
		}
	});

	test("before any prediction: the eight stages, no models", async () => {
		const body = await stagesOf(app({ stages: true }));
		expect(body).toEqual({ unit: "us", stages: EIGHT_STAGES, models: {} });
		expect<readonly string[]>(STAGES).toEqual(EIGHT_STAGES);
	});

	test("N predictions to each of two models: N samples each, every stage a sound number", async () => {
		const server = app({ stages: true });
		const N = 7;
		for (let i = 0; i < N; i++) {
			for (const model of ["gbdt-onnx", "mlp-ts"]) {
				const response = await server.request(`/predict/${model}`, postJson(PASSENGERS[i % 5]));
				expect(response.status).toBe(200);
				await response.arrayBuffer();
			}
		}
		const body = await stagesOf(server);
		expect(body.unit).toBe("us");
		expect(body.stages).toEqual(EIGHT_STAGES);
		expect(Object.keys(body.models).sort()).toEqual(["gbdt-onnx", "mlp-ts"]);
		expect(body.models["gbdt-onnx"]?.count).toBe(N);
		expect(body.models["mlp-ts"]?.count).toBe(N);
		expectSound(body);
		// Reading the summary does not change it.
		const again = await stagesOf(server);
		expect(Object.values(again.models).map((m) => m.count)).toEqual([N, N]);
	});

	test("a batch is one sample, under its model, whatever its size", async () => {
		const server = app({ stages: true });
		for (const size of [1, 10, 1000]) {
			const batch = { instances: Array.from({ length: size }, (_, i) => PASSENGERS[i % 5]) };
			const response = await server.request("/predict/gbdt-ts/batch", postJson(batch));
			expect(response.status).toBe(200);
			await response.arrayBuffer();
		}
		const body = await stagesOf(server);
		expect(Object.keys(body.models)).toEqual(["gbdt-ts"]);
		expect(body.models["gbdt-ts"]?.count).toBe(3);
		expectSound(body);
	});

	test("answers are the same, byte for byte, as without stages (and with metrics too)", async () => {
		const plain = app();
		const staged = app({ stages: true });
		const both = app({ stages: true, metrics: true });
		const batch = { instances: PASSENGERS };
		for (const model of registry().ids) {
			const requests: [string, unknown][] = [
				...PASSENGERS.map((p): [string, unknown] => [`/predict/${model}`, p]),
				[`/predict/${model}/batch`, batch],
			];
			for (const [path, body] of requests) {
				const expected = await snapshot(await plain.request(path, postJson(body)));
				expect(expected.status).toBe(200);
				for (const server of [staged, both]) {
					const response = await server.request(path, postJson(body));
					expect(response.headers.get("server-timing")).toMatch(/^infer;dur=\d+\.\d{3}$/);
					expect({ path, ...(await snapshot(response)) }).toEqual({ path, ...expected });
				}
			}
		}
		const counts = Object.fromEntries(
			Object.entries((await stagesOf(staged)).models).map(([id, m]) => [id, m.count]),
		);
		expect(counts).toEqual(Object.fromEntries(registry().ids.map((id) => [id, 6])));
	});

	test("DELETE: 204 with no body, then no models; samples start again from 0", async () => {
		const server = app({ stages: true });
		for (let i = 0; i < 3; i++) {
			await (await server.request("/predict/mlp-onnx", postJson(PASSENGER))).arrayBuffer();
		}
		expect((await stagesOf(server)).models["mlp-onnx"]?.count).toBe(3);
		const cleared = await server.request(STAGES_PATH, { method: "DELETE" });
		expect(cleared.status).toBe(204);
		expect(await cleared.text()).toBe("");
		expect((await stagesOf(server)).models).toEqual({});
		// Clearing what is already clear is fine.
		expect((await server.request(STAGES_PATH, { method: "DELETE" })).status).toBe(204);
		await (await server.request("/predict/mlp-onnx", postJson(PASSENGER))).arrayBuffer();
		const body = await stagesOf(server);
		expect(Object.keys(body.models)).toEqual(["mlp-onnx"]);
		expect(body.models["mlp-onnx"]?.count).toBe(1);
		expectSound(body);
	});

	test("other methods on /bench/stages: 405 naming GET and DELETE", async () => {
		const response = await app({ stages: true }).request(STAGES_PATH, { method: "POST" });
		expect(response.status).toBe(405);
		expect(response.headers.get("allow")).toBe("GET, DELETE, HEAD");
		await response.arrayBuffer();
	});

	test("refused requests: answered exactly as without stages, and not recorded", async () => {
		const plain = app();
		const staged = app({ stages: true });
		const statuses = new Set<number>();
		for (const [name, make] of REFUSED) {
			const expected = await snapshot(await plain.request(...make()));
			const actual = await snapshot(await staged.request(...make()));
			expect({ name, ...actual }).toEqual({ name, ...expected });
			expect(expected.status).toBeGreaterThanOrEqual(400);
			statuses.add(expected.status);
		}
		expect([...statuses].sort()).toEqual([400, 404, 405, 413, 415]);
		expect((await stagesOf(staged)).models).toEqual({});
		// A success after them is the first sample.
		await (await staged.request("/predict/gbdt-onnx", postJson(PASSENGER))).arrayBuffer();
		expect((await stagesOf(staged)).models["gbdt-onnx"]?.count).toBe(1);
	});

	test("warm-up requests are not recorded; a request during warm-up is", async () => {
		const server = app({ stages: true });
		const warming = warmRequestPath(server, registry().ids, { rounds: 5 });
		const during = await server.request("/predict/gbdt-ts", postJson(PASSENGER));
		expect(during.status).toBe(200);
		await during.arrayBuffer();
		expect((await warming).requests).toBe(5 * (registry().ids.length + 1));
		// And one sent by hand as warm-up sends them.
		const init = postJson(PASSENGER);
		const warm = await server.request("/predict/mlp-ts", init, WARM_UP_ENV);
		expect(warm.status).toBe(200);
		await warm.arrayBuffer();
		const body = await stagesOf(server);
		expect(Object.keys(body.models)).toEqual(["gbdt-ts"]);
		expect(body.models["gbdt-ts"]?.count).toBe(1);
	});
});

describe("with metrics on too", () => {
	const series = (samples: Map<string, number>) =>
		Object.fromEntries(
			[...samples].filter(
				([name]) =>
					name.startsWith("inference_requests_total") ||
					name.startsWith("http_requests_total") ||
					name.startsWith("inference_batch_size_count") ||
					name.startsWith("inference_request_duration_seconds_count") ||
					name.startsWith("inference_compute_duration_seconds_count"),
			),
		);

	/** The same traffic, warm-up included; the counts it leaves in /metrics. */
	async function traffic(server: OpenAPIHono): Promise<Record<string, number>> {
		await warmRequestPath(server, registry().ids, { rounds: 2 });
		for (let i = 0; i < 3; i++) {
			expect((await server.request("/predict/gbdt-onnx", postJson(PASSENGER))).status).toBe(200);
		}
		const batch = { instances: [PASSENGER, PASSENGER] };
		expect((await server.request("/predict/mlp-ts/batch", postJson(batch))).status).toBe(200);
		expect((await server.request("/predict/mlp-ts", postJson("{"))).status).toBe(400);
		expect(
			(await server.request("/predict/mlp-ts", postJson({ ...PASSENGER, age: 1 }))).status,
		).toBe(400);
		const untyped = { method: "POST", body: JSON.stringify(PASSENGER) };
		expect((await server.request("/predict/mlp-ts", untyped)).status).toBe(415);
		const large = postJson("x".repeat(BODY_LIMITS.single + 1));
		expect((await server.request("/predict/gbdt-ts", large)).status).toBe(413);
		expect((await server.request("/predict/nope", postJson(PASSENGER))).status).toBe(404);
		const response = await server.request("/metrics");
		expect(response.status).toBe(200);
		return series(parseSamples(await response.text()));
	}

	test("inference_requests_total counts successes and failures as without stages", async () => {
		const staged = app({ stages: true, metrics: true });
		const counted = await traffic(staged);
		const expected = await traffic(app({ metrics: true }));
		expect(counted).toEqual(expected);
		const inference = (model: string, outcome: string) =>
			counted[`inference_requests_total{model="${model}",outcome="${outcome}"}`];
		expect(inference("gbdt-onnx", "success")).toBe(3);
		expect(inference("mlp-ts", "success")).toBe(1);
		expect(inference("mlp-ts", "failure")).toBe(3);
		expect(inference("gbdt-ts", "failure")).toBe(1);
		expect(inference("gbdt-ts", "success")).toBe(0);
		expect(inference("mlp-onnx", "success")).toBe(0);
		expect(counted['inference_request_duration_seconds_count{model="gbdt-onnx"}']).toBe(3);
		const http = (route: string, status: number) =>
			counted[`http_requests_total{method="POST",route="${route}",status="${status}"}`];
		expect(http("/predict/:model", 200)).toBe(3);
		expect(http("/predict/:model/batch", 200)).toBe(1);
		expect(http("/predict/:model", 400)).toBe(2);
		expect(http("/predict/:model", 415)).toBe(1);
		expect(http("/predict/:model", 413)).toBe(1);
		expect(http("/predict/:model", 404)).toBe(1);
		// The stage samples: successes only, warm-up left out.
		const body = await stagesOf(staged);
		expect(Object.fromEntries(Object.entries(body.models).map(([id, m]) => [id, m.count]))).toEqual(
			{ "gbdt-onnx": 3, "mlp-ts": 1 },
		);
	});

	test("/bench/stages is counted in http_requests_total, as the bench's routes are", async () => {
		const server = app({ stages: true, metrics: true });
		await (await server.request(STAGES_PATH)).arrayBuffer();
		await server.request(STAGES_PATH, { method: "DELETE" });
		const samples = parseSamples(await (await server.request("/metrics")).text());
		expect(
			samples.get(`http_requests_total{method="GET",route="${STAGES_PATH}",status="200"}`),
		).toBe(1);
		expect(
			samples.get(`http_requests_total{method="DELETE",route="${STAGES_PATH}",status="204"}`),
		).toBe(1);
	});
});

describe("StageTimes", () => {
	/** Clock readings such that stage i lasts durations[i] ms. */
	const marksFor = (durations: readonly number[], start = 1000) => {
		const marks = new Float64Array(STAGES.length + 1);
		marks[0] = start;
		durations.forEach((ms, i) => {
			marks[i + 1] = (marks[i] as number) + ms;
		});
		return marks;
	};

	test("p50 and mean in µs, by stage and by model", () => {
		const times = new StageTimes();
		// Stage i lasts (i + 1) µs, then (i + 1) * 3 µs, then (i + 1) * 5 µs.
		for (const factor of [1, 3, 5]) {
			times.add("a", marksFor(STAGES.map((_, i) => ((i + 1) * factor) / 1000)));
		}
		times.add("b", marksFor(STAGES.map(() => 0.25)));
		const summary = times.summary();
		expect(summary.unit).toBe("us");
		const a = summary.models.a as ModelStages;
		expect(a.count).toBe(3);
		expect(Object.values(a.p50)).toEqual(STAGES.map((_, i) => (i + 1) * 3));
		expect(Object.values(a.mean)).toEqual(STAGES.map((_, i) => (i + 1) * 3));
		const b = summary.models.b as ModelStages;
		expect(b.count).toBe(1);
		expect(Object.values(b.p50)).toEqual(STAGES.map(() => 250));
		expect(Object.values(b.mean)).toEqual(STAGES.map(() => 250));
		times.clear();
		expect(times.summary().models).toEqual({});
	});

	test("a ring: a long run keeps only the most recent samples, and counts them all", () => {
		const times = new StageTimes();
		// One slow sample first, then enough fast ones to push it out of any ring up to 2^17.
		times.add("m", marksFor(STAGES.map(() => 1000)));
		const fast = marksFor(STAGES.map(() => 0.002));
		const total = 2 ** 17;
		for (let i = 0; i < total; i++) times.add("m", fast);
		const m = times.summary().models.m as ModelStages;
		expect(m.count).toBe(total + 1);
		expect(Object.values(m.p50)).toEqual(STAGES.map(() => 2));
		expect(Object.values(m.mean)).toEqual(STAGES.map(() => 2));
	});
});
