import { describe, expect, test } from "bun:test";
import { FLOOR_POST_PATH } from "../../src/api/bench-routes.ts";
import { BODY_LIMITS } from "../../src/api/body.ts";
import { SECURITY_HEADERS } from "../../src/api/respond.ts";
import { createApp } from "../../src/app.ts";
import type { Registry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";

/** The bench's POST floor (BENCH_ROUTES=1), in-process; real servers: tests/serve/bench-routes. */

const noModels: Registry = {
	get: () => undefined,
	list: () => [],
	ids: [],
	graphs: [],
	ready: true,
	warm: async () => {},
	close: async () => {},
};
const logger = createLogger("silent");
const PASSENGER = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
	new Request(`http://x${FLOOR_POST_PATH}`, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body,
	});

/** A body of `size` bytes sent chunked (no Content-Length), 1 KiB at a time. */
function chunked(size: number): ReadableStream<Uint8Array> {
	let left = size;
	return new ReadableStream({
		pull(controller) {
			const n = Math.min(1024, left);
			controller.enqueue(new Uint8Array(n).fill(120));
			left -= n;
			if (left === 0) controller.close();
		},
	});
}

describe("POST /bench/floor-post", () => {
	test("absent without the option: 404, like any unknown path", async () => {
		for (const app of [
			createApp(noModels, { logger }),
			createApp(noModels, { logger, benchRoutes: false }),
		]) {
			const response = await app.request(post(PASSENGER));
			expect(response.status).toBe(404);
			expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
		}
	});

	test("with it: reads the body and answers a constant with the usual headers", async () => {
		const app = createApp(noModels, { logger, benchRoutes: true });
		for (const body of [PASSENGER, "not even JSON", "x".repeat(BODY_LIMITS.single)]) {
			const response = await app.request(post(body));
			expect(response.status).toBe(200);
			expect(await response.json()).toEqual({ status: "ok" });
			expect(response.headers.get("content-type")).toBe("application/json");
			for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
				expect(response.headers.get(name)).toBe(value);
			}
		}
	});

	test("the body limit of one passenger applies, declared or chunked", async () => {
		const app = createApp(noModels, { logger, benchRoutes: true });
		const over = BODY_LIMITS.single + 1;
		const declared = await app.request(post("x".repeat(over)));
		expect(declared.status).toBe(413);
		expect(((await declared.json()) as { error: { code: string } }).error.code).toBe(
			"payload_too_large",
		);
		const streamed = await app.request(
			new Request(`http://x${FLOOR_POST_PATH}`, {
				method: "POST",
				body: chunked(over),
				// @ts-expect-error: Node's and Bun's fetch need this for a stream body.
				duplex: "half",
			}),
		);
		expect(streamed.status).toBe(413);
		const fits = await app.request(
			new Request(`http://x${FLOOR_POST_PATH}`, {
				method: "POST",
				body: chunked(BODY_LIMITS.single),
				// @ts-expect-error: as above.
				duplex: "half",
			}),
		);
		expect(fits.status).toBe(200);
	});

	test("other methods get 405 naming POST", async () => {
		const app = createApp(noModels, { logger, benchRoutes: true });
		const response = await app.request(FLOOR_POST_PATH);
		expect(response.status).toBe(405);
		expect(response.headers.get("allow")).toBe("POST");
	});

	test("left out of /openapi.json: it is not part of the API", async () => {
		const app = createApp(noModels, { logger, benchRoutes: true });
		const doc = (await (await app.request("/openapi.json")).json()) as {
			paths: Record<string, unknown>;
		};
		expect(Object.keys(doc.paths)).not.toContain(FLOOR_POST_PATH);
		expect(Object.keys(doc.paths)).toContain("/health");
	});

	test("counted in http_requests_total as /health is, when metrics are on", async () => {
		const app = createApp(noModels, { logger, benchRoutes: true, metrics: true });
		await app.request(post(PASSENGER));
		const text = await (await app.request("/metrics")).text();
		expect(text).toContain(
			`http_requests_total{method="POST",route="${FLOOR_POST_PATH}",status="200"} 1`,
		);
	});
});
