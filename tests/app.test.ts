import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { PASSENGER_FIELDS } from "../src/api/schemas.ts";
import { createApp } from "../src/app.ts";
import { Manifest } from "../src/inference/manifest.ts";
import { MODEL_IDS } from "../src/inference/model-info.ts";
import { loadRegistry } from "../src/inference/registry.ts";
import { createLogger } from "../src/logger.ts";
import { titanicRegistry } from "./support/registry.ts";
import { PROJECT_ROOT } from "./support/server.ts";

const MODELS_DIR = `${PROJECT_ROOT}models`;
const manifest = Manifest.parse(JSON.parse(readFileSync(`${MODELS_DIR}/manifest.json`, "utf8")));
const passenger = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
const JSON_HEADERS = { "content-type": "application/json" };

const registry = titanicRegistry({ warm: true });
let app: OpenAPIHono;

beforeAll(() => {
	app = createApp(registry(), { logger: createLogger("silent") });
});

const predict = (model: string, body: unknown, headers: Record<string, string> = JSON_HEADERS) =>
	app.request(`/predict/${model}`, {
		method: "POST",
		headers,
		body: typeof body === "string" ? body : JSON.stringify(body),
	});

type ErrorJson = { error: { code: string; message: string; issues?: { path: string }[] } };
type PredictionJson = { model: string; prediction: number; probability: number };

describe("probes", () => {
	test("/health is 200", async () => {
		const response = await app.request("/health");
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ status: "ok" });
	});

	test("/ready is 503 until warm-up ends, 200 after", async () => {
		const cold = await loadRegistry(MODELS_DIR, PASSENGER_FIELDS);
		const coldApp = createApp(cold, { logger: createLogger("silent") });
		expect((await coldApp.request("/ready")).status).toBe(503);
		await cold.warm();
		expect((await coldApp.request("/ready")).status).toBe(200);
		await cold.close();
	});
});

describe("POST /predict/:model", () => {
	test("every model answers the reference request", async () => {
		for (const id of MODEL_IDS) {
			const response = await predict(id, passenger);
			expect(response.status).toBe(200);
			expect(response.headers.get("content-type")).toContain("application/json");
			expect(response.headers.get("server-timing")).toMatch(/^infer;dur=\d+\.\d{3}$/);
			const body = (await response.json()) as PredictionJson;
			expect(body.model).toBe(id);
			expect(body.probability).toBeGreaterThan(0);
			expect(body.probability).toBeLessThan(1);
			expect(body.prediction).toBe(body.probability >= 0.5 ? 1 : 0);
		}
	});

	test("the ONNX and TypeScript executors of a family agree", async () => {
		for (const family of ["mlp", "gbdt"]) {
			const onnx = (await (await predict(`${family}-onnx`, passenger)).json()) as PredictionJson;
			const ts = (await (await predict(`${family}-ts`, passenger)).json()) as PredictionJson;
			expect(Math.abs(onnx.probability - ts.probability)).toBeLessThan(1e-5);
		}
	});

	test("a missing or null Age is the training median", async () => {
		const median = manifest.preprocessing.ageMedian;
		const { Age: _, ...noAge } = passenger;
		for (const id of MODEL_IDS) {
			const atMedian = (await (
				await predict(id, { ...passenger, Age: median })
			).json()) as PredictionJson;
			const absent = (await (await predict(id, noAge)).json()) as PredictionJson;
			const asNull = (await (
				await predict(id, { ...passenger, Age: null })
			).json()) as PredictionJson;
			expect(absent.probability).toBe(atMedian.probability);
			expect(asNull.probability).toBe(atMedian.probability);
		}
	});

	test("a woman in first class is far likelier to survive than a man in third", async () => {
		const woman = { Pclass: 1, Sex: "female", Age: 30, SibSp: 0, Parch: 0, Fare: 80 };
		for (const id of MODEL_IDS) {
			const her = (await (await predict(id, woman)).json()) as PredictionJson;
			const him = (await (await predict(id, passenger)).json()) as PredictionJson;
			expect(her.prediction).toBe(1);
			expect(him.prediction).toBe(0);
		}
	});

	test("400 lists every invalid field", async () => {
		const response = await predict("gbdt-onnx", {
			Pclass: 4,
			Sex: "x",
			Age: -1,
			SibSp: 1.5,
			Parch: "0",
			Fare: 1e5,
			age: 3,
		});
		expect(response.status).toBe(400);
		const body = (await response.json()) as ErrorJson;
		expect(body.error.code).toBe("invalid_request");
		expect(body.error.issues?.map((i) => i.path).sort()).toEqual(
			["Age", "Fare", "Parch", "Pclass", "Sex", "SibSp", "age"].sort(),
		);
	});

	test("400 for malformed JSON, 415 for another type, 413 for a large body", async () => {
		const malformed = await predict("gbdt-ts", '{"Pclass": 3,');
		expect(malformed.status).toBe(400);
		expect(((await malformed.json()) as ErrorJson).error.code).toBe("malformed_json");

		const text = await predict("gbdt-ts", JSON.stringify(passenger), {
			"content-type": "text/plain",
		});
		expect(text.status).toBe(415);
		expect(((await text.json()) as ErrorJson).error.code).toBe("unsupported_media_type");

		const big = await predict("gbdt-ts", JSON.stringify({ ...passenger, pad: "x".repeat(70_000) }));
		expect(big.status).toBe(413);
		expect(((await big.json()) as ErrorJson).error.code).toBe("payload_too_large");
	});

	test("404 for an unknown model lists the known ones", async () => {
		const response = await predict("xgboost", passenger);
		expect(response.status).toBe(404);
		const body = (await response.json()) as ErrorJson;
		expect(body.error.code).toBe("unknown_model");
		for (const id of MODEL_IDS) expect(body.error.message).toContain(id);
	});

	test("a bad request leaves the next one unaffected", async () => {
		const before = (await (await predict("mlp-onnx", passenger)).json()) as PredictionJson;
		await predict("mlp-onnx", "\u0000garbage");
		await predict("mlp-onnx", { Pclass: "oops" });
		const after = (await (await predict("mlp-onnx", passenger)).json()) as PredictionJson;
		expect(after).toEqual(before);
	});
});

describe("POST /predict/:model/batch", () => {
	test("gives the same answers as one request per passenger", async () => {
		const instances = [
			passenger,
			{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
			{ Pclass: 2, Sex: "female", Age: null, SibSp: 0, Parch: 2, Fare: 26 },
		];
		for (const id of MODEL_IDS) {
			const response = await app.request(`/predict/${id}/batch`, {
				method: "POST",
				headers: JSON_HEADERS,
				body: JSON.stringify({ instances }),
			});
			expect(response.status).toBe(200);
			expect(response.headers.get("server-timing")).toMatch(/^infer;dur=/);
			const body = (await response.json()) as {
				model: string;
				predictions: Omit<PredictionJson, "model">[];
			};
			expect(body.model).toBe(id);
			expect(body.predictions).toHaveLength(instances.length);
			for (const [i, one] of instances.entries()) {
				const single = (await (await predict(id, one)).json()) as PredictionJson;
				expect(body.predictions[i]?.probability).toBeCloseTo(single.probability, 6);
			}
		}
	});

	test("400 names the instance and field", async () => {
		const response = await app.request("/predict/gbdt-ts/batch", {
			method: "POST",
			headers: JSON_HEADERS,
			body: JSON.stringify({ instances: [passenger, { ...passenger, Sex: "?" }] }),
		});
		expect(response.status).toBe(400);
		expect(((await response.json()) as ErrorJson).error.issues?.[0]?.path).toBe("instances.1.Sex");
	});
});

describe("metadata and documentation", () => {
	test("/models lists the four variants with their metadata", async () => {
		const body = (await (await app.request("/models")).json()) as {
			models: { id: string; backend: string; sha256: string; input: { fields: object } }[];
		};
		expect(body.models.map((m) => m.id).sort()).toEqual([...MODEL_IDS].sort());
		const gbdtOnnx = body.models.find((m) => m.id === "gbdt-onnx");
		expect(gbdtOnnx?.backend).toBe("onnxruntime");
		expect(gbdtOnnx?.sha256).toBe(manifest.models.gbdt.sha256);
		expect(Object.keys(gbdtOnnx?.input.fields ?? {})).toEqual([
			"Pclass",
			"Sex",
			"Age",
			"SibSp",
			"Parch",
			"Fare",
		]);
	});

	test("/models/:model gives one, 404 for an unknown one", async () => {
		const one = (await (await app.request("/models/mlp-ts")).json()) as {
			id: string;
			metrics: object;
		};
		expect(one.id).toBe("mlp-ts");
		expect(one.metrics).toHaveProperty(
			"holdout.accuracy",
			manifest.models.mlp.metrics.holdout.accuracy,
		);
		expect((await app.request("/models/nope")).status).toBe(404);
	});

	test("/openapi.json documents the routes from the validating schemas", async () => {
		const doc = (await (await app.request("/openapi.json")).json()) as {
			openapi: string;
			paths: Record<string, object>;
			components: {
				schemas: Record<string, { properties?: Record<string, { maximum?: number }> }>;
			};
		};
		expect(doc.openapi).toBe("3.1.0");
		expect(Object.keys(doc.paths)).toContain("/predict/{model}");
		expect(Object.keys(doc.paths)).toContain("/predict/{model}/batch");
		expect(doc.components.schemas.Passenger?.properties?.Fare?.maximum).toBe(10000);
	});

	test("/docs is an HTML page", async () => {
		const response = await app.request("/docs");
		expect(response.status).toBe(200);
		expect(await response.text()).toContain("/openapi.json");
	});
});

describe("routing errors", () => {
	test("404 JSON for an unknown route", async () => {
		const response = await app.request("/nope");
		expect(response.status).toBe(404);
		expect(((await response.json()) as ErrorJson).error.code).toBe("not_found");
	});

	test("405 with Allow for a wrong method", async () => {
		const response = await app.request("/predict/gbdt-ts");
		expect(response.status).toBe(405);
		expect(response.headers.get("allow")).toBe("POST");
		expect(((await response.json()) as ErrorJson).error.code).toBe("method_not_allowed");
		expect((await app.request("/health", { method: "DELETE" })).status).toBe(405);
	});

	test("405 and Allow also for a path with parameters, a HEAD, and the batch route", async () => {
		const head = await app.request("/predict/mlp-ts/batch", { method: "HEAD" });
		expect(head.status).toBe(405);
		expect(head.headers.get("allow")).toBe("POST");
		const models = await app.request("/models/mlp-ts", { method: "PUT" });
		expect(models.status).toBe(405);
		expect(models.headers.get("allow")).toBe("GET, HEAD");
		expect((await app.request("/predict/mlp-ts/batch/extra")).status).toBe(404);
	});

	test("each mounted route has one handler: Hono calls it without composing a chain", () => {
		const handlersOf = (path: string) => app.routes.filter((r) => r.path === path);
		for (const path of ["/health", "/predict/:model", "/predict/:model/batch"]) {
			expect(handlersOf(path).length).toBe(1);
		}
	});
});

describe("API_KEY", () => {
	const key = "s3cret-key-0123456789";
	const secured = () => createApp(registry(), { logger: createLogger("silent"), apiKey: key });

	test("prediction and model routes need the bearer token", async () => {
		const app = secured();
		for (const [path, init] of [
			["/models", {}],
			["/models/gbdt-ts", {}],
			[
				"/predict/gbdt-ts",
				{ method: "POST", headers: JSON_HEADERS, body: JSON.stringify(passenger) },
			],
		] as const) {
			const anonymous = await app.request(path, init);
			expect(anonymous.status).toBe(401);
			expect(((await anonymous.json()) as ErrorJson).error.code).toBe("unauthorized");
			const wrong = await app.request(path, {
				...init,
				headers: { ...("headers" in init ? init.headers : {}), authorization: `Bearer ${key}x` },
			});
			expect(wrong.status).toBe(401);
			const right = await app.request(path, {
				...init,
				headers: { ...("headers" in init ? init.headers : {}), authorization: `Bearer ${key}` },
			});
			expect(right.status).toBe(200);
		}
	});

	test("/health and /ready stay open", async () => {
		const app = secured();
		expect((await app.request("/health")).status).toBe(200);
		expect((await app.request("/ready")).status).toBe(200);
	});
});

test("responses carry secure default headers", async () => {
	const response = await app.request("/health");
	expect(response.headers.get("x-content-type-options")).toBe("nosniff");
	expect(response.headers.get("x-frame-options")).toBe("DENY");
	expect(response.headers.get("referrer-policy")).toBe("no-referrer");
});

test("LOG_LEVEL=debug logs one line per request; info logs none", async () => {
	for (const [level, expected] of [
		["debug", 2],
		["info", 0],
	] as const) {
		const lines: string[] = [];
		const logged = createApp(registry(), { logger: createLogger(level, (l) => lines.push(l)) });
		await logged.request("/health");
		await logged.request("/predict/gbdt-ts", {
			method: "POST",
			headers: JSON_HEADERS,
			body: JSON.stringify(passenger),
		});
		expect(lines).toHaveLength(expected);
		if (expected) expect(lines[1]).toMatch(/^debug: POST \/predict\/gbdt-ts 200 \d+\.\d{3} ms$/);
	}
});
