import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";

describe("loadConfig", () => {
	test("defaults", () => {
		expect(loadConfig({})).toEqual({
			port: 3000,
			host: "127.0.0.1",
			modelsDir: "models",
			logLevel: "info",
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
		});
		expect(loadConfig({ PORT: "" }).port).toBe(3000);
	});

	test("a bad value is a ConfigError naming the variable and value", () => {
		for (const [env, text] of [
			[{ PORT: "abc" }, 'invalid PORT="abc"'],
			[{ PORT: "65536" }, 'invalid PORT="65536"'],
			[{ PORT: "80.5" }, 'invalid PORT="80.5"'],
			[{ LOG_LEVEL: "loud" }, 'invalid LOG_LEVEL="loud"'],
		] as const) {
			expect(() => loadConfig(env)).toThrow(ConfigError);
			expect(() => loadConfig(env)).toThrow(text);
		}
	});
});
