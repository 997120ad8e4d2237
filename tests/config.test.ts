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

test("API_KEY is optional, at least 16 characters, and never echoed", () => {
	expect(loadConfig({ API_KEY: "0123456789abcdef" }).apiKey).toBe("0123456789abcdef");
	expect(() => loadConfig({ API_KEY: "short-secret" })).toThrow("invalid API_KEY=(hidden)");
	try {
		loadConfig({ API_KEY: "short-secret" });
	} catch (error) {
		expect(String(error)).not.toContain("short-secret");
	}
});
