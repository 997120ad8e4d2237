import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { BuiltinGenerator } from "../../bench/loadgen/builtin.ts";
import {
	parseResponse,
	requestBytes,
	runWorker,
	type WorkerConfig,
} from "../../bench/loadgen/builtin-worker.ts";
import { parseInferMs } from "../../bench/loadgen/types.ts";
import { DEFAULT_BODY } from "../../bench/options.ts";
import { ROOT } from "./helpers.ts";

const bytes = (text: string) => Buffer.from(text, "latin1");

describe("HTTP/1.1 response parsing", () => {
	test("Content-Length: complete, incomplete, and pipelined leftovers", () => {
		const full = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer-Timing: infer;dur=0.012\r\n\r\nok";
		expect(parseResponse(bytes(full))).toEqual({
			status: 200,
			serverTiming: "infer;dur=0.012",
			consumed: full.length,
			close: false,
		});
		expect(parseResponse(bytes(full.slice(0, -1)))).toBeNull();
		expect(parseResponse(bytes(full.slice(0, 20)))).toBeNull();
		expect(parseResponse(bytes(`${full}HTTP/1.1`))?.consumed).toBe(full.length);
	});

	test("chunked bodies, with and without trailers", () => {
		const chunked =
			"HTTP/1.1 503 x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
		expect(parseResponse(bytes(chunked))).toMatchObject({ status: 503, consumed: chunked.length });
		expect(parseResponse(bytes(chunked.slice(0, -2)))).toBeNull();
		const trailers =
			"HTTP/1.1 200 x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n";
		expect(parseResponse(bytes(trailers))?.consumed).toBe(trailers.length);
	});

	test("Connection: close and bodiless statuses", () => {
		expect(parseResponse(bytes("HTTP/1.1 204 No\r\nConnection: close\r\n\r\n"))).toMatchObject({
			status: 204,
			close: true,
		});
	});

	test("request bytes carry Host, length and body", () => {
		const config = {
			url: "http://127.0.0.1:8080/predict/mlp-ts?x=1",
			method: "POST",
			body: '{"é":1}',
			contentType: "application/json",
			requests: 1,
			concurrency: 1,
			warmup: 0,
			timeoutMs: 1,
		};
		const text = requestBytes(config).toString("utf8");
		expect(text).toStartWith("POST /predict/mlp-ts?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n");
		expect(text).toContain("Content-Length: 8\r\n");
		expect(text).toEndWith('\r\n\r\n{"é":1}');
		expect(requestBytes({ ...config, method: "GET" }).toString()).not.toContain("Content-Length");
	});

	test("Server-Timing infer duration", () => {
		expect(parseInferMs("infer;dur=0.012")).toBe(0.012);
		expect(parseInferMs('db;dur=3, infer;desc="x";dur="1.5"')).toBe(1.5);
		expect(parseInferMs("total;dur=1")).toBeNull();
		expect(parseInferMs(null)).toBeNull();
	});
});

describe("built-in generator against a local server", () => {
	let server: Server;
	let port = 0;
	const sockets = new Set<unknown>();
	let requests = 0;
	let bodies: string[] = [];

	beforeAll(async () => {
		server = createServer((req: IncomingMessage, res: ServerResponse) => {
			sockets.add(req.socket);
			requests++;
			let body = "";
			req.on("data", (chunk: Buffer) => {
				body += chunk.toString();
			});
			req.on("end", () => {
				bodies.push(body);
				const payload = JSON.stringify({ model: "x", prediction: 0, probability: 0.5 });
				if (req.url === "/chunked") {
					res.writeHead(200, { "server-timing": "infer;dur=0.5" });
					res.write(payload.slice(0, 4));
					setTimeout(() => res.end(payload.slice(4)), 1);
				} else if (req.url === "/close") {
					res.writeHead(200, { "content-length": payload.length, connection: "close" });
					res.end(payload);
				} else if (req.url === "/fail") {
					res.writeHead(500, { "content-length": 0 });
					res.end();
				} else {
					res.writeHead(200, {
						"content-length": payload.length,
						"server-timing": "infer;dur=0.012",
					});
					res.end(payload);
				}
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		port = (server.address() as AddressInfo).port;
	});

	afterAll(() => {
		server.close();
	});

	const reset = () => {
		sockets.clear();
		requests = 0;
		bodies = [];
	};
	const generator = () =>
		BuiltinGenerator.create(join(ROOT, "node_modules", ".bin", "node"), "0.0.0-test");

	test("sends exactly N requests over C keep-alive connections and times each", async () => {
		reset();
		const gen = await generator();
		expect(gen.info.name).toBe("builtin");
		expect(gen.info.version).toMatch(/^0\.0\.0-test \(node 24\.\d+\.\d+\)$/);
		const result = await gen.run({
			url: `http://127.0.0.1:${port}/predict/x`,
			method: "POST",
			body: DEFAULT_BODY,
			contentType: "application/json",
			requests: 103,
			concurrency: 4,
		});
		expect(result.errors).toBe(0);
		expect(result.samples).toHaveLength(103);
		expect(requests).toBe(103);
		expect(sockets.size).toBe(4);
		expect(new Set(bodies)).toEqual(new Set([DEFAULT_BODY]));
		expect(
			result.samples.every((s) => s.status === 200 && s.inferMs === 0.012 && s.durationUs > 0),
		).toBe(true);
		const lastEnd = Math.max(...result.samples.map((s) => s.startUs + s.durationUs));
		expect(result.wallUs).toBeGreaterThanOrEqual(lastEnd);
		expect(result.readsServerTiming).toBe(true);
	});

	test("warm-up requests go first on the same connections and are not recorded", async () => {
		reset();
		const result = await (await generator()).run({
			url: `http://127.0.0.1:${port}/predict/x`,
			method: "GET",
			requests: 50,
			concurrency: 2,
			warmup: 20,
		});
		expect(requests).toBe(70);
		expect(sockets.size).toBe(2);
		expect(result.samples).toHaveLength(50);
		expect(Math.min(...result.samples.map((s) => s.startUs))).toBeGreaterThanOrEqual(0);
	});

	test("concurrency 1 is strictly sequential on one connection", async () => {
		reset();
		const result = await (await generator()).run({
			url: `http://127.0.0.1:${port}/chunked`,
			method: "GET",
			requests: 20,
			concurrency: 1,
		});
		expect(result.samples).toHaveLength(20);
		expect(sockets.size).toBe(1);
		for (let i = 1; i < result.samples.length; i++) {
			const prev = result.samples[i - 1] as (typeof result.samples)[number];
			expect((result.samples[i]?.startUs ?? 0) >= prev.startUs + prev.durationUs).toBe(true);
		}
		expect(result.samples.every((s) => s.inferMs === 0.5)).toBe(true);
	});

	test("reconnects when the server closes, and reports non-2xx as statuses", async () => {
		reset();
		const gen = await generator();
		const closing = await gen.run({
			url: `http://127.0.0.1:${port}/close`,
			method: "GET",
			requests: 10,
			concurrency: 2,
		});
		expect(closing.samples).toHaveLength(10);
		expect(closing.errors).toBe(0);
		expect(sockets.size).toBe(10);
		const failing = await gen.run({
			url: `http://127.0.0.1:${port}/fail`,
			method: "GET",
			requests: 5,
			concurrency: 1,
		});
		expect(failing.samples.map((s) => s.status)).toEqual([500, 500, 500, 500, 500]);
	});

	test("host steal: read in the worker right after the warm-up and after the measured phase", async () => {
		reset();
		// Each snapshot notes how many requests the server had received by then.
		const seen: { cpuList: string | undefined; requests: number }[] = [];
		const read = (cpuList: string | undefined) => {
			seen.push({ cpuList, requests });
			return { total: 100 * seen.length, steal: 5 * seen.length };
		};
		const config: WorkerConfig = {
			url: `http://127.0.0.1:${port}/predict/x`,
			method: "GET",
			body: "",
			contentType: "application/json",
			requests: 50,
			concurrency: 2,
			warmup: 20,
			timeoutMs: 10_000,
			afterWarmup: { method: "POST", url: `http://127.0.0.1:${port}/reset` },
		};
		const without = await runWorker(config, read);
		expect(seen).toEqual([]);
		expect("hostStealPct" in without).toBe(false);
		reset();
		const output = await runWorker({ ...config, steal: { cpuList: "0" } }, read);
		// 20 warm-up requests and the one after them, then the 50 measured.
		expect(seen).toEqual([
			{ cpuList: "0", requests: 21 },
			{ cpuList: "0", requests: 71 },
		]);
		expect(output.hostStealPct).toBe(5);
		expect(JSON.parse(JSON.stringify(output)).hostStealPct).toBe(5);
	});

	test("host steal through the worker process: given when asked, on the CPUs asked", async () => {
		const gen = await generator();
		const request = {
			url: `http://127.0.0.1:${port}/predict/x`,
			method: "GET" as const,
			requests: 10,
			concurrency: 1,
			warmup: 5,
		};
		expect("hostStealPct" in (await gen.run(request))).toBe(false);
		// No machine has CPU 100000: the worker read that list, and says it could not.
		const absent = await gen.run({ ...request, steal: { cpuList: "100000" } });
		expect(absent.hostStealPct).toBeNull();
		// Every CPU: a share where /proc/stat is and a tick passed, else null.
		const every = (await gen.run({ ...request, steal: {} })).hostStealPct;
		expect(every === null || (every !== undefined && every >= 0 && every <= 100)).toBe(true);
	});

	test("a closed port yields errors, not samples", async () => {
		const closed = createServer();
		await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
		const deadPort = (closed.address() as AddressInfo).port;
		await new Promise((resolve) => closed.close(resolve));
		const result = await (await generator()).run({
			url: `http://127.0.0.1:${deadPort}/`,
			method: "GET",
			requests: 6,
			concurrency: 2,
		});
		expect(result.samples).toHaveLength(0);
		expect(result.errors).toBe(6);
	});
});
