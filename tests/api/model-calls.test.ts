import { describe, expect, test } from "bun:test";
import { MODEL_CALLS_PATH } from "../../src/api/model-calls.ts";
import { WARM_UP_ENV } from "../../src/api/request-log.ts";
import { type AppOptions, createApp } from "../../src/app.ts";
import { createLogger } from "../../src/logger.ts";
import { titanicRegistry } from "../support/registry.ts";

/**
 * BENCH_ROUTES=1 with metrics: the model-call times the metrics already take, served per model
 * at /bench/model-calls for the bench's own cost; nothing of it without both settings.
 */

const logger = createLogger("silent");
const PASSENGER = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };

const registry = titanicRegistry({ warm: true });

const app = (options: Omit<AppOptions, "logger"> = {}) =>
	createApp(registry(), { logger, ...options });

const predict = (served: ReturnType<typeof app>, model: string, env?: object) =>
	served.request(
		`/predict/${model}`,
		{
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(PASSENGER),
		},
		env,
	);

type Summary = { unit: string; models: Record<string, { count: number; p50: number }> };
const summary = async (served: ReturnType<typeof app>): Promise<Summary> =>
	(await (await served.request(MODEL_CALLS_PATH)).json()) as Summary;

describe("/bench/model-calls", () => {
	test("counts each answered prediction per model, its p50 that of Server-Timing's durations", async () => {
		const served = app({ benchRoutes: true, metrics: true });
		const durations: number[] = [];
		for (let i = 0; i < 9; i++) {
			const response = await predict(served, "mlp-onnx");
			expect(response.status).toBe(200);
			durations.push(Number(response.headers.get("server-timing")?.split("dur=")[1]));
		}
		await predict(served, "gbdt-ts");
		// Neither a failed request nor a warm-up one is a model call of the measured run.
		await served.request("/predict/mlp-onnx", { method: "POST", body: "{}" });
		await predict(served, "mlp-onnx", WARM_UP_ENV);
		const { unit, models } = await summary(served);
		expect(unit).toBe("us");
		expect(models["mlp-onnx"]?.count).toBe(9);
		expect(models["gbdt-ts"]?.count).toBe(1);
		// Server-Timing rounds to the µs, the summary to a tenth of one.
		const middle = durations.sort((a, b) => a - b)[4] as number;
		expect(Math.abs((models["mlp-onnx"]?.p50 ?? 0) - middle * 1000)).toBeLessThanOrEqual(1);
	});

	test("DELETE clears them", async () => {
		const served = app({ benchRoutes: true, metrics: true });
		await predict(served, "mlp-ts");
		expect((await served.request(MODEL_CALLS_PATH, { method: "DELETE" })).status).toBe(204);
		expect((await summary(served)).models).toEqual({});
	});

	test("behind API_KEY like /bench/stages: 401 without the token", async () => {
		const served = app({ benchRoutes: true, metrics: true, apiKey: "k".repeat(24) });
		expect((await served.request(MODEL_CALLS_PATH)).status).toBe(401);
		const auth = { headers: { authorization: `Bearer ${"k".repeat(24)}` } };
		expect((await served.request(MODEL_CALLS_PATH, auth)).status).toBe(200);
	});

	test("not mounted without bench routes, nor with metrics off (nothing records the calls)", async () => {
		for (const options of [{ metrics: true }, { benchRoutes: true, metrics: false }]) {
			expect((await app(options).request(MODEL_CALLS_PATH)).status).toBe(404);
		}
	});
});
