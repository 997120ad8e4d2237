import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { RUNTIMES, startServer, waitReady } from "../support/server.ts";

/**
 * /docs in a real browser, against the real server on each runtime: Swagger UI renders the
 * operations from /openapi.json, and every request the page makes goes to the server itself (the
 * assets come from the pinned swagger-ui-dist package, never a CDN). Requests to anywhere else
 * are recorded, then aborted, so the test never depends on the network either.
 */

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
	console.log(
		`docs.test.ts: skipped, ${CHROMIUM} not found (install it: apt-get install chromium)`,
	);
}

const FLAGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

// Generous: three servers and a browser share two cores with other test runs.
const TIMEOUT_MS = 120_000;

let browser: Browser | undefined;

beforeAll(async () => {
	if (hasChromium) browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}, TIMEOUT_MS);

afterAll(async () => {
	await browser?.close();
});

/** The operation summaries on the page, as "METHOD path". */
const OPERATIONS_IN_DOM = () =>
	Array.from(document.querySelectorAll(".opblock-summary")).map((summary) => {
		const method = summary.querySelector(".opblock-summary-method")?.textContent ?? "";
		const path = summary.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
		return `${method} ${path}`;
	});

describe.each(RUNTIMES)("/docs on %s", (runtime) => {
	test.skipIf(!hasChromium)(
		"renders every operation, loading nothing from outside the server",
		async () => {
			const server = await startServer(runtime);
			const context = await (browser as Browser).newContext();
			try {
				await waitReady(server.url);
				const origin = new URL(server.url).origin;
				const requested: string[] = [];
				await context.route("**/*", (route) => {
					const url = route.request().url();
					requested.push(url);
					return new URL(url).origin === origin ? route.continue() : route.abort();
				});
				const page = await context.newPage();
				const problems: string[] = [];
				page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
				page.on("console", (message) => {
					if (message.type() === "error") problems.push(`console: ${message.text()}`);
				});

				const response = await page.goto(`${server.url}/docs`);
				expect(response?.status()).toBe(200);
				await page.waitForSelector(".opblock-summary", { timeout: 60_000 });
				const operations = await page.evaluate(OPERATIONS_IN_DOM);

				expect(operations).toContain("POST /predict/{model}");
				expect(operations).toContain("POST /predict/{model}/batch");
				expect(operations).toContain("GET /health");
				expect(requested).toContain(`${origin}/openapi.json`);
				expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
				// A Content-Security-Policy violation or a failed load would show up here.
				expect(problems).toEqual([]);
			} finally {
				await context.close();
				await server.stop();
			}
		},
		TIMEOUT_MS,
	);
});

describe("/docs responses", () => {
	test(
		"page and assets: content types, caching, security headers, 405",
		async () => {
			const server = await startServer("node");
			try {
				const pageResponse = await fetch(`${server.url}/docs`);
				const html = await pageResponse.text();
				expect(pageResponse.headers.get("content-type")).toBe("text/html; charset=utf-8");
				expect(pageResponse.headers.get("cache-control")).toBe("no-cache");
				expect(pageResponse.headers.get("content-security-policy")).toContain("script-src 'self'");
				expect(pageResponse.headers.get("x-content-type-options")).toBe("nosniff");

				const types: Record<string, string> = {
					"swagger-ui.css": "text/css; charset=utf-8",
					"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
					"init.js": "text/javascript; charset=utf-8",
					"favicon-32x32.png": "image/png",
				};
				for (const [name, type] of Object.entries(types)) {
					const linked = new RegExp(`"(/docs/${name.replace(".", "\\.")}\\?v=\\w+)"`).exec(
						html,
					)?.[1];
					expect(linked).toBeDefined();
					const asset = await fetch(`${server.url}${linked}`);
					await asset.arrayBuffer();
					expect(asset.status).toBe(200);
					expect(asset.headers.get("content-type")).toBe(type);
					expect(asset.headers.get("cache-control")).toContain("immutable");
					expect(asset.headers.get("cross-origin-resource-policy")).toBe("same-origin");
					// Without the page's digest the URL may serve another version later: no long cache.
					const unversioned = await fetch(`${server.url}/docs/${name}`);
					await unversioned.arrayBuffer();
					expect(unversioned.headers.get("cache-control")).toBe("no-cache");
				}

				const post = await fetch(`${server.url}/docs/swagger-ui.css`, { method: "POST" });
				expect(post.status).toBe(405);
				expect(post.headers.get("allow")).toBe("GET, HEAD");
			} finally {
				await server.stop();
			}
		},
		TIMEOUT_MS,
	);
});
