import { describe, expect, test } from "bun:test";
import { PASSENGER_FIELDS } from "../../src/api/schemas.ts";
import { createApp } from "../../src/app.ts";
import { loadRegistry } from "../../src/inference/registry.ts";
import { createLogger } from "../../src/logger.ts";
import { warmRequestPath } from "../../src/serve/warm-up.ts";
import { titanicRegistry } from "../support/registry.ts";
import { PROJECT_ROOT } from "../support/server.ts";

const KEY = "warm-up-key-0123456789";
const registry = titanicRegistry();

describe("warmRequestPath", () => {
	test("goes through auth with the server's API_KEY", async () => {
		const app = createApp(registry(), { logger: createLogger("silent"), apiKey: KEY });
		const warmed = await warmRequestPath(app, registry().ids, { apiKey: KEY, rounds: 2 });
		// Each round: one prediction per model, then /health.
		expect(warmed.requests).toBe(2 * (registry().ids.length + 1));
	});

	test("a token the app does not take fails warm-up, so auth really is on its path", async () => {
		const app = createApp(registry(), { logger: createLogger("silent"), apiKey: KEY });
		await expect(warmRequestPath(app, registry().ids, { rounds: 1 })).rejects.toThrow(
			/answered 401/,
		);
		await expect(
			warmRequestPath(app, registry().ids, { apiKey: `${KEY}x`, rounds: 1 }),
		).rejects.toThrow(/answered 401/);
	});

	test("gives the event loop a turn per pass: /health answers and /ready says 503 meanwhile", async () => {
		const fresh = await loadRegistry(`${PROJECT_ROOT}models`, PASSENGER_FIELDS);
		try {
			const app = createApp(fresh, { logger: createLogger("silent") });
			let finished = false;
			const warming = warmRequestPath(app, fresh.ids, { rounds: 50 }).then(() => {
				finished = true;
			});
			// A macrotask, as a request from the network would be: it runs between two passes.
			const [health, ready] = await new Promise<Response[]>((resolve) =>
				setTimeout(() => resolve(Promise.all([app.request("/health"), app.request("/ready")])), 0),
			);
			expect(finished).toBe(false);
			expect(health.status).toBe(200);
			expect(ready.status).toBe(503);
			await warming;
		} finally {
			await fresh.close();
		}
	});

	test("ends early once stopped() says the server is shutting down", async () => {
		const app = createApp(registry(), { logger: createLogger("silent") });
		let passes = 0;
		const warmed = await warmRequestPath(app, registry().ids, {
			rounds: 500,
			stopped: () => ++passes > 3,
		});
		expect(warmed.requests).toBe(3 * (registry().ids.length + 1));
	});

	test("at LOG_LEVEL=debug it logs nothing, while a request arriving meanwhile is logged", async () => {
		const lines: string[] = [];
		const app = createApp(registry(), { logger: createLogger("debug", (l) => lines.push(l)) });
		const warming = warmRequestPath(app, registry().ids, { rounds: 3 });
		const during = await app.request("/health");
		await warming;
		expect(during.status).toBe(200);
		expect(lines).toHaveLength(1);
		expect(lines[0]).toMatch(/^debug: GET \/health 200 \d+\.\d{3} ms$/);
	});
});
