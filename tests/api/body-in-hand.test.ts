import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { readBody, readRequestsWith } from "../../src/api/body.ts";
import { guarded, whenThere } from "../../src/api/soon.ts";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/logger.ts";
import { titanicRegistry } from "../support/registry.ts";

/**
 * A body the runtime already holds (Node reads a small one before routing, serve/node.ts): the
 * handlers then answer without an await, which lets Node's adapter write the response at once.
 * The runtime's readers are a process-wide hook: each test sets them and puts the defaults back.
 */

const PASSENGER = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';
const bytes = new TextEncoder().encode(PASSENGER);
/** What the test's runtime holds for a request: its env carries the bytes. */
const inHand = (env: unknown) => (env as { held?: Uint8Array } | undefined)?.held;
const post = (path: string, body = PASSENGER) =>
	new Request(`http://x${path}`, {
		method: "POST",
		body,
		headers: { "content-type": "application/json" },
	});

const registry = titanicRegistry({ warm: true });
let app: OpenAPIHono;
beforeAll(() => {
	app = createApp(registry(), { logger: createLogger("silent"), metrics: true, benchRoutes: true });
});
afterEach(() => readRequestsWith({}));

describe("readBody", () => {
	test("the bytes themselves when the runtime holds them, else a promise of the Request's", async () => {
		readRequestsWith({ body: inHand });
		expect(readBody(post("/"), 1024, { held: bytes })).toBe(bytes);
		const read = readBody(post("/"), 1024, {});
		expect(read).toBeInstanceOf(Promise);
		expect(new TextDecoder().decode(await read)).toBe(PASSENGER);
	});

	test("whenThere: at once for a value, through the promise for a promise", async () => {
		expect(whenThere(2, (n) => n + 1)).toBe(3);
		const later = whenThere(Promise.resolve(2), (n) => n + 1);
		expect(later).toBeInstanceOf(Promise);
		expect(await later).toBe(3);
	});

	test("guarded: `failed` sees an error thrown at once and one rejected later", async () => {
		const seen: unknown[] = [];
		const failed = (error: unknown): never => {
			seen.push(error);
			throw error;
		};
		expect(guarded(() => 1, failed)).toBe(1);
		expect(() =>
			guarded(() => {
				throw new Error("now");
			}, failed),
		).toThrow("now");
		await expect(guarded(() => Promise.reject(new Error("later")), failed)).rejects.toThrow(
			"later",
		);
		expect(seen.map((e) => (e as Error).message)).toEqual(["now", "later"]);
	});
});

/** inference_requests_total for mlp-ts, from /metrics. */
async function outcomes(): Promise<{ success: number; failure: number }> {
	const text = await (await app.fetch(new Request("http://x/metrics"))).text();
	const count = (outcome: string) =>
		Number(
			new RegExp(`inference_requests_total\\{model="mlp-ts",outcome="${outcome}"\\} (\\d+)`).exec(
				text,
			)?.[1],
		);
	return { success: count("success"), failure: count("failure") };
}

describe("the handlers, with the body in hand", () => {
	const fetchNow = (path: string, body = PASSENGER) =>
		app.fetch(post(path, body), { held: new TextEncoder().encode(body) });

	test("a prediction, floor-post and a refusal answer without a promise", async () => {
		readRequestsWith({ body: inHand });
		for (const path of ["/predict/mlp-ts", "/predict/gbdt-onnx", "/bench/floor-post"]) {
			const response = fetchNow(path);
			expect({ path, promise: response instanceof Promise }).toEqual({ path, promise: false });
			expect((response as Response).status).toBe(200);
		}
		const refused = fetchNow("/predict/mlp-ts", '{"Pclass":9}');
		expect(refused instanceof Promise).toBe(false);
		expect((refused as Response).status).toBe(400);
	});

	test("the same answers as through the Request, refusals and metrics included", async () => {
		const answers = async (viaHand: boolean) => {
			readRequestsWith(viaHand ? { body: inHand } : {});
			const out: string[] = [];
			for (const body of [PASSENGER, '{"Pclass":9}', "not json", ""]) {
				const response = await app.fetch(post("/predict/mlp-ts", body), {
					held: new TextEncoder().encode(body),
				});
				out.push(`${response.status} ${await response.text()}`);
			}
			return out;
		};
		const before = await outcomes();
		expect(await answers(true)).toEqual(await answers(false));
		// Each way: one success, three refusals (invalid, not JSON, empty), recorded alike.
		const after = await outcomes();
		expect([after.success - before.success, after.failure - before.failure]).toEqual([2, 6]);
	});
});
