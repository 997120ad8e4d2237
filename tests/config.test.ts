import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";

describe("loadConfig", () => {
	test("defaults", () => {
		expect(loadConfig({})).toEqual({
			port: 3000,
			host: "127.0.0.1",
			modelsDir: "models",
			logLevel: "info",
			apiKey: undefined,
			workers: 1,
			metrics: true,
			v2: { maxBodyBytes: 8 * 1024 * 1024, maxElements: 1024 * 1024 },
			benchRoutes: false,
			stages: false,
		});
	});

	test("reads every variable; empty means default", () => {
		expect(
			loadConfig({ PORT: "8080", HOST: "0.0.0.0", MODELS_DIR: "/m", LOG_LEVEL: "debug" }),
		).toEqual({
			port: 8080,
			host: "0.0.0.0",
			modelsDir: "/m",
			logLevel: "debug",
			apiKey: undefined,
			workers: 1,
			metrics: true,
			v2: { maxBodyBytes: 8 * 1024 * 1024, maxElements: 1024 * 1024 },
			benchRoutes: false,
			stages: false,
		});
		expect(loadConfig({ PORT: "" }).port).toBe(3000);
	});

	test("the Open Inference Protocol bounds: whole numbers from 1", () => {
		const { v2 } = loadConfig({ V2_MAX_BODY_BYTES: "1048576", V2_MAX_ELEMENTS: "1000" });
		expect(v2).toEqual({ maxBodyBytes: 1048576, maxElements: 1000 });
		for (const bad of ["0", "-1", "1.5", "lots", "1e12"]) {
			expect(() => loadConfig({ V2_MAX_ELEMENTS: bad })).toThrow(
				/^invalid V2_MAX_ELEMENTS=.*whole number/,
			);
			expect(() => loadConfig({ V2_MAX_BODY_BYTES: bad })).toThrow(/^invalid V2_MAX_BODY_BYTES=/);
		}
	});

	test("a bad value is a ConfigError naming the variable and value", () => {
		for (const [env, text] of [
			[{ PORT: "abc" }, 'invalid PORT="abc"'],
			[{ PORT: "65536" }, 'invalid PORT="65536"'],
			[{ PORT: "80.5" }, 'invalid PORT="80.5"'],
			[{ LOG_LEVEL: "loud" }, 'invalid LOG_LEVEL="loud"'],
			// Blank is not empty: " " would otherwise coerce to port 0, a random port.
			[{ PORT: " " }, 'invalid PORT=" ": must not be blank'],
			[{ HOST: "127.0.0.1 " }, 'invalid HOST="127.0.0.1 ": must not contain spaces'],
		] as const) {
			expect(() => loadConfig(env)).toThrow(ConfigError);
			expect(() => loadConfig(env)).toThrow(text);
		}
	});
});

test("METRICS: on (the default) or off, nothing else", () => {
	expect(loadConfig({ METRICS: "on" }).metrics).toBe(true);
	expect(loadConfig({ METRICS: "off" }).metrics).toBe(false);
	for (const bad of ["OFF", "false", "0", "yes"]) {
		expect(() => loadConfig({ METRICS: bad })).toThrow(
			`invalid METRICS="${bad}": must be "on" or "off"`,
		);
	}
});

test("BENCH_ROUTES: 0 (the default) or 1, nothing else", () => {
	expect(loadConfig({ BENCH_ROUTES: "1" }).benchRoutes).toBe(true);
	expect(loadConfig({ BENCH_ROUTES: "0" }).benchRoutes).toBe(false);
	for (const bad of ["on", "true", "2", "yes"]) {
		expect(() => loadConfig({ BENCH_ROUTES: bad })).toThrow(
			`invalid BENCH_ROUTES="${bad}": must be "1" or "0"`,
		);
	}
});

test("API_KEY is optional, at least 16 characters, and never echoed", () => {
	expect(() => loadConfig({ API_KEY: "" })).toThrow(
		"invalid API_KEY=(hidden): must not be empty (unset it to turn authentication off)",
	);
	expect(loadConfig({ API_KEY: "0123456789abcdef" }).apiKey).toBe("0123456789abcdef");
	expect(() => loadConfig({ API_KEY: "short-secret" })).toThrow("invalid API_KEY=(hidden)");
	try {
		loadConfig({ API_KEY: "short-secret" });
	} catch (error) {
		expect(String(error)).not.toContain("short-secret");
	}
});

test("WORKERS: a count, or auto for every core; several need a fixed port", () => {
	expect(loadConfig({ WORKERS: "3" }).workers).toBe(3);
	expect(loadConfig({ WORKERS: "auto" }, 6).workers).toBe(6);
	for (const bad of ["0", "65", "1.5", "two"]) {
		expect(() => loadConfig({ WORKERS: bad })).toThrow(`invalid WORKERS="${bad}"`);
	}
	expect(() => loadConfig({ WORKERS: "2", PORT: "0" })).toThrow("workers need a fixed port");
	expect(loadConfig({ WORKERS: "1", PORT: "0" }).port).toBe(0);
});
