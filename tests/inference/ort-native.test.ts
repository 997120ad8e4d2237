import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { PASSENGER_FIELDS } from "../../src/api/schemas.ts";
import { createApp } from "../../src/app.ts";
import {
	bindingShapeProblem,
	installedOrtVersion,
	loadNativeOrt,
	TESTED_ORT_VERSION,
} from "../../src/inference/ort-native.ts";
import { loadRegistry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";
import { MODELS_DIR } from "../train/fixtures.ts";

describe("the guard around onnxruntime-node's internal binding", () => {
	test("reads the installed version from the package, as onnxruntime itself reports it", () => {
		expect(installedOrtVersion()).toBe(ort.env.versions.node as string);
	});

	test("the installed onnxruntime-node is the tested one, so the native path is used", async () => {
		// Fails after an upgrade on purpose: re-run these tests, then move TESTED_ORT_VERSION.
		expect(installedOrtVersion()).toBe(TESTED_ORT_VERSION);
		expect("native" in (await loadNativeOrt())).toBe(true);
	});

	test("another tested version means no native path, and says why in one line", async () => {
		const result = await loadNativeOrt("9.9.9");
		expect(result).toEqual({
			unavailable: `onnxruntime-node ${installedOrtVersion()} is installed, not 9.9.9, the version whose internal binding was tested`,
		});
	});

	test("accepts the binding's shape and names what is missing from another", () => {
		class Session {
			loadModel() {}
			run() {}
			dispose() {}
			get inputMetadata() {
				return [];
			}
			get outputMetadata() {
				return [];
			}
		}
		const fake = (session: unknown) => ({ initOrt() {}, binding: { InferenceSession: session } });
		expect(bindingShapeProblem(fake(Session))).toBeNull();
		expect(bindingShapeProblem(undefined)).toBe("has no initOrt()");
		expect(bindingShapeProblem({ initOrt() {} })).toBe("has no InferenceSession");
		class NoRun extends Session {}
		Object.defineProperty(NoRun.prototype, "run", { value: undefined });
		expect(bindingShapeProblem(fake(NoRun))).toBe("has no session.run()");
		class PlainMetadata {
			loadModel() {}
			run() {}
			dispose() {}
			inputMetadata = [];
		}
		expect(bindingShapeProblem(fake(PlainMetadata))).toBe("has no session.inputMetadata");
	});
});

describe("loadRegistry when the installed onnxruntime-node is not the tested one", () => {
	test("warns once, serves both onnx models through the public API, and the app awaits them", async () => {
		const lines: string[] = [];
		const logger = createLogger("warn", (line) => lines.push(line));
		const registry = await loadRegistry(MODELS_DIR, PASSENGER_FIELDS, {
			warn: (line) => logger.warn(line),
			testedOrtVersion: "0.0.0-untested",
		});
		try {
			expect(lines).toHaveLength(1);
			expect(lines[0]).toStartWith(`warn: onnxruntime-node ${installedOrtVersion()} is installed`);
			expect(lines[0]).toContain("public InferenceSession API");
			expect(registry.list().map((m) => [m.id, Boolean(m.executor.async)])).toEqual([
				["mlp-onnx", true],
				["mlp-ts", false],
				["gbdt-onnx", true],
				["gbdt-ts", false],
			]);
			await registry.warm();
			expect(registry.ready).toBe(true);

			const app = createApp(registry, { logger });
			const passenger = { Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 };
			const post = async (path: string, body: unknown) => {
				const response = await app.request(path, {
					method: "POST",
					headers: { "content-type": "application/json" },
					body: JSON.stringify(body),
				});
				expect(response.status).toBe(200);
				return (await response.json()) as Record<string, unknown>;
			};
			for (const family of ["mlp", "gbdt"]) {
				const onnx = await post(`/predict/${family}-onnx`, passenger);
				const ts = await post(`/predict/${family}-ts`, passenger);
				expect(onnx.prediction).toBe(ts.prediction);
				expect(Math.abs(Number(onnx.probability) - Number(ts.probability))).toBeLessThan(1e-5);
				const batch = await post(`/predict/${family}-onnx/batch`, {
					instances: [passenger, passenger],
				});
				expect(batch.predictions).toEqual([
					{ prediction: onnx.prediction, probability: onnx.probability },
					{ prediction: onnx.prediction, probability: onnx.probability },
				]);
			}
			// Awaited executors get arrays of their own: concurrent predictions keep their answers.
			const passengers = [1, 2, 3].flatMap((Pclass) =>
				["male", "female"].map((Sex) => ({ ...passenger, Pclass, Sex })),
			);
			const together = await Promise.all(passengers.map((p) => post("/predict/mlp-onnx", p)));
			for (const [i, p] of passengers.entries()) {
				const ts = await post("/predict/mlp-ts", p);
				expect(Math.abs(Number(together[i]?.probability) - Number(ts.probability))).toBeLessThan(
					1e-5,
				);
			}
			expect(lines).toHaveLength(1);
		} finally {
			await registry.close();
		}
	});

	test("with the tested version installed: the native path, no warning", async () => {
		const lines: string[] = [];
		const registry = await loadRegistry(MODELS_DIR, PASSENGER_FIELDS, {
			warn: (line) => lines.push(line),
		});
		try {
			expect(lines).toEqual([]);
			expect(registry.list().every((m) => !m.executor.async)).toBe(true);
		} finally {
			await registry.close();
		}
	});
});
