import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { peerCommand } from "../../bench/peers.ts";
import { freePort } from "../../bench/runtimes.ts";
import { SECURITY_HEADERS } from "../../src/api/respond.ts";
import { PASSENGER_FIELDS } from "../../src/api/schemas.ts";
import { createApp } from "../../src/app.ts";
import { MODEL_IDS } from "../../src/inference/model-info.ts";
import { loadRegistry, type Registry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";

/**
 * peers/bare/: each runtime's own server, as the bench starts it, answers the two floors with the
 * service's bytes (body, Content-Type, the security headers, a Content-Length rather than chunked
 * framing), so a bare row differs from ours by the framework alone; answers POST /predict/:model
 * for the four models with the service's answer and headers (the probability the service's own
 * app gives, to a few decimals: onnxruntime's sessions are the peer's own), refuses an unknown
 * model (404) and a body that is not JSON (400) and stays up; and it exits 0 on SIGTERM.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BODY = '{"status":"ok"}';
const PASSENGER = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';
/** One of each outcome: the male third-class passenger above dies, this one survives. */
const SURVIVOR = '{"Pclass":1,"Sex":"female","Age":38,"SibSp":1,"Parch":0,"Fare":71.2833}';
const PASSENGERS = [PASSENGER, SURVIVOR];
/** Headers the HTTP server adds on the wire, which the service's app does not set itself. */
const WIRE_HEADERS = ["content-length", "date", "connection", "keep-alive"];

async function answered(url: string): Promise<void> {
	const deadline = Date.now() + 60_000;
	for (;;) {
		const ok = await fetch(url).then(
			(r) => r.arrayBuffer().then(() => r.ok),
			() => false,
		);
		if (ok) return;
		if (Date.now() > deadline) throw new Error(`${url} did not answer in 60 s`);
		await Bun.sleep(50);
	}
}

/** What a floor answer must carry: the service's headers, lower-cased as fetch gives them. */
function shape(response: Response, text: string) {
	return {
		status: response.status,
		text,
		contentType: response.headers.get("content-type"),
		contentLength: response.headers.get("content-length"),
		chunked: response.headers.get("transfer-encoding"),
		security: Object.fromEntries(
			Object.keys(SECURITY_HEADERS).map((name) => [name, response.headers.get(name)]),
		),
	};
}

const EXPECTED = {
	status: 200,
	text: BODY,
	contentType: "application/json",
	contentLength: String(BODY.length),
	chunked: null,
	security: SECURITY_HEADERS,
};

interface ServiceAnswer {
	headers: Record<string, string>;
	json: { model: string; prediction: number; probability: number };
}

/** The service's own app, in-process: its answer per model and passenger. */
let registry: Registry;
const service = new Map<string, ServiceAnswer>();

beforeAll(async () => {
	registry = await loadRegistry(`${ROOT}models`, PASSENGER_FIELDS);
	await registry.warm();
	const app = createApp(registry, { logger: createLogger("silent") });
	for (const model of MODEL_IDS) {
		for (const body of PASSENGERS) {
			const response = await app.request(`/predict/${model}`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body,
			});
			expect(response.status).toBe(200);
			const headers = Object.fromEntries(response.headers);
			service.set(`${model} ${body}`, { headers, json: await response.json() });
		}
	}
}, 60_000);

afterAll(() => registry.close());

const post = (url: string, body: string) => fetch(url, { method: "POST", body });

/** A bare prediction against the service's answer for the same model and passenger. */
async function expectServiceAnswer(base: string, model: string, body: string): Promise<void> {
	const expected = service.get(`${model} ${body}`) as ServiceAnswer;
	const response = await post(`${base}/predict/${model}`, body);
	const text = await response.text();
	const headers = Object.fromEntries(response.headers);
	const { "server-timing": timing, ...rest } = headers;
	const { "server-timing": serviceTiming, ...serviceRest } = expected.headers;
	expect({ model, body, status: response.status }).toEqual({ model, body, status: 200 });
	// The service's headers and values, plus only what the HTTP server adds; a length, not chunks.
	expect(
		Object.fromEntries(Object.entries(rest).filter(([n]) => !WIRE_HEADERS.includes(n))),
	).toEqual(serviceRest);
	expect(headers["content-length"]).toBe(String(Buffer.byteLength(text)));
	expect(headers["transfer-encoding"]).toBeUndefined();
	expect(timing).toMatch(/^infer;dur=\d+\.\d{3}$/);
	expect(serviceTiming).toMatch(/^infer;dur=\d+\.\d{3}$/);
	// The service's text: its keys in its order, the model, outcome and probability.
	expect(text).toMatch(/^\{"model":"[a-z-]+","prediction":[01],"probability":0\.\d+(e-\d+)?\}$/);
	const json = JSON.parse(text);
	expect(Object.keys(json)).toEqual(["model", "prediction", "probability"]);
	expect(json.model).toBe(model);
	expect(json.prediction).toBe(expected.json.prediction);
	expect(json.probability).toBeCloseTo(expected.json.probability, 5);
}

describe.each(["node-bare", "bun-bare", "deno-bare"] as const)("%s", (peer) => {
	test("answers both floors and the four models with the service's bytes, refuses what it cannot answer, and exits 0 on SIGTERM", async () => {
		const port = await freePort();
		const { command, args } = peerCommand(peer, ROOT);
		const child = spawn(command, args, {
			cwd: ROOT,
			env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
			stdio: "ignore",
		});
		const exited = once(child, "exit");
		try {
			const base = `http://127.0.0.1:${port}`;
			await answered(`${base}/health`);
			const get = await fetch(`${base}/health`);
			expect(shape(get, await get.text())).toEqual(EXPECTED);
			const floorPost = await fetch(`${base}/bench/floor-post`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: PASSENGER,
			});
			expect(shape(floorPost, await floorPost.text())).toEqual(EXPECTED);

			for (const model of MODEL_IDS) {
				for (const body of PASSENGERS) await expectServiceAnswer(base, model, body);
			}

			const unknown = await post(`${base}/predict/no-such-model`, PASSENGER);
			await unknown.arrayBuffer();
			expect(unknown.status).toBe(404);
			for (const body of ["not json", "", "null", '{"Pclass":3,']) {
				const refused = await post(`${base}/predict/mlp-onnx`, body);
				await refused.arrayBuffer();
				expect({ body, status: refused.status }).toEqual({ body, status: 400 });
			}
			// Unvalidated (a lower bound): a JSON object missing every field is still answered.
			const unchecked = await post(`${base}/predict/gbdt-ts`, "{}");
			await unchecked.arrayBuffer();
			expect(unchecked.status).toBe(200);
			// Still up, and still right.
			await expectServiceAnswer(base, "mlp-onnx", SURVIVOR);
		} finally {
			child.kill("SIGTERM");
		}
		const [code] = (await exited) as [number | null];
		expect(code).toBe(0);
	}, 120_000);
});
