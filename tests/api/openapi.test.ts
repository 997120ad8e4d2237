import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app.ts";
import { MODEL_IDS } from "../../src/inference/model-info.ts";
import type { Registry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";

/** The document is built from the routes alone: no model needs to be loaded. */
const noModels: Registry = {
	get: () => undefined,
	list: () => [],
	ids: [],
	graphs: [],
	ready: true,
	warm: async () => {},
	close: async () => {},
};
const KEY = "openapi-key-0123456789";

interface Operation {
	security?: Record<string, string[]>[];
	parameters?: { name: string; in: string; schema: { enum?: string[] } }[];
	responses: Record<string, { headers?: Record<string, unknown> }>;
}
interface Document {
	paths: Record<string, Record<string, Operation>>;
	components: {
		securitySchemes?: Record<string, { type: string; scheme: string; description: string }>;
	};
}

const app = createApp(noModels, { logger: createLogger("silent"), metrics: true });
const doc = (await (await app.request("/openapi.json")).json()) as Document;
const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
	Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
);
const PROTECTED = [
	"post /predict/{model}",
	"post /predict/{model}/batch",
	"get /models",
	"get /models/{model}",
	"get /metrics",
	...["/v2/models/{model}", "/v2/models/{model}/versions/{version}"].flatMap((prefix) => [
		`get ${prefix}`,
		`get ${prefix}/ready`,
		`get ${prefix}/config`,
		`post ${prefix}/infer`,
	]),
];
/** A concrete URL for a documented path. */
const urlOf = (path: string) => path.replace("{model}", "gbdt-ts").replace("{version}", "1");

test("documents every route", () => {
	expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(
		[
			...PROTECTED,
			"get /health",
			"get /ready",
			"get /v2",
			"get /v2/health/live",
			"get /v2/health/ready",
		].sort(),
	);
});

describe("bearer authentication", () => {
	test("a bearer security scheme that says it applies only with API_KEY", () => {
		const scheme = doc.components.securitySchemes?.bearerAuth;
		expect(scheme).toMatchObject({ type: "http", scheme: "bearer" });
		expect(scheme?.description).toContain("only when");
		expect(scheme?.description).toContain("API_KEY");
	});

	test("the prediction and model operations require it and document 401; the probes do not", () => {
		for (const { path, method, operation } of operations) {
			const name = `${method} ${path}`;
			const secured = PROTECTED.includes(name);
			expect({ name, security: operation.security }).toEqual({
				name,
				security: secured ? [{ bearerAuth: [] }] : undefined,
			});
			expect({ name, has401: "401" in operation.responses }).toEqual({ name, has401: secured });
		}
	});

	test("what the document marks secured is what the server guards", async () => {
		const secured = createApp(noModels, {
			logger: createLogger("silent"),
			apiKey: KEY,
			metrics: true,
		});
		for (const { path, method, operation } of operations) {
			const response = await secured.request(urlOf(path), { method: method.toUpperCase() });
			const name = `${method} ${path}`;
			expect({ name, status: response.status === 401 }).toEqual({
				name,
				status: operation.security !== undefined,
			});
		}
	});
});

describe("error responses", () => {
	const statuses = (path: string, method: string) =>
		Object.keys(doc.paths[path]?.[method]?.responses ?? {});

	test("predictions document 400, 404, 413 and 415; one model 404; every operation 500", () => {
		for (const path of ["/predict/{model}", "/predict/{model}/batch"]) {
			expect(statuses(path, "post")).toEqual([
				"200",
				"400",
				"401",
				"404",
				"405",
				"413",
				"415",
				"500",
			]);
		}
		expect(statuses("/models/{model}", "get")).toEqual(["200", "401", "404", "405", "500"]);
		expect(statuses("/models", "get")).toEqual(["200", "401", "405", "500"]);
		expect(statuses("/ready", "get")).toEqual(["200", "405", "500", "503"]);
		for (const { operation } of operations) expect(operation.responses).toHaveProperty("500");
	});

	test("every path documents its 405 with Allow, and answers one", async () => {
		for (const { path, operation } of operations) {
			expect(operation.responses["405"]?.headers).toHaveProperty("Allow");
			const response = await app.request(urlOf(path), { method: "DELETE" });
			expect({ path, status: response.status }).toEqual({ path, status: 405 });
		}
	});

	test("401 documents its WWW-Authenticate header", () => {
		expect(doc.paths["/models"]?.get?.responses["401"]?.headers).toHaveProperty("WWW-Authenticate");
	});
});

describe("/metrics", () => {
	test("documented as Prometheus' text format 0.0.4", () => {
		const ok = doc.paths["/metrics"]?.get?.responses["200"] as {
			content?: Record<string, unknown>;
		};
		expect(Object.keys(ok.content ?? {})).toEqual(["text/plain; version=0.0.4"]);
	});

	test("absent from the document with METRICS=off, as from the server", async () => {
		const off = createApp(noModels, { logger: createLogger("silent"), metrics: false });
		const offDoc = (await (await off.request("/openapi.json")).json()) as Document;
		expect(Object.keys(offDoc.paths)).not.toContain("/metrics");
		expect((await off.request("/metrics")).status).toBe(404);
	});
});

test("the typed API's model path parameter enumerates the model ids; the protocol's takes any name", () => {
	const protocol = operations.filter((o) => o.path.startsWith("/v2/models/{model}"));
	expect(protocol).toHaveLength(8);
	for (const { operation } of protocol) {
		const param = operation.parameters?.find((p) => p.name === "model");
		expect(param?.in).toBe("path");
		expect(param?.schema.enum).toBeUndefined();
	}
	const withModel = operations.filter(
		(o) => o.path.includes("{model}") && !o.path.startsWith("/v2/"),
	);
	expect(withModel).toHaveLength(3);
	for (const { operation } of withModel) {
		const param = operation.parameters?.find((p) => p.name === "model");
		expect(param?.in).toBe("path");
		expect(param?.schema.enum).toEqual([...MODEL_IDS]);
	}
});
