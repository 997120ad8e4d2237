import { describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
	H2LOAD_NO_DURATION,
	H2loadError,
	h2loadArgs,
	parseH2loadFinished,
	parseH2loadLog,
	parseH2loadVersion,
	probeH2load,
} from "../../bench/loadgen/h2load.ts";
import { DEFAULT_BODY } from "../../bench/options.ts";
import { findOnPath } from "../../bench/processes.ts";
import { FIXTURES, tempDir } from "./helpers.ts";

const fixture = (name: string) => readFileSync(join(FIXTURES, "h2load", name), "utf8");

/** The log's columns read independently of the parser: [start, status, µs] per line. */
const columns = (text: string) =>
	text
		.trim()
		.split("\n")
		.map((line) => line.split("\t").map(Number));

const hasH2load = findOnPath("h2load") !== null;
if (!hasH2load) console.warn("h2load not on PATH: its real-run test is skipped");

describe("h2load log (captured from a real run)", () => {
	test("POST run: one sample per row, ordered by start, relative to the first start", () => {
		const text = fixture("post-mlp-ts.log.tsv");
		const rows = columns(text);
		const { samples, failed } = parseH2loadLog(text);
		expect(failed).toBe(0);
		// h2load's own summary line for that run says how many succeeded.
		expect(fixture("post-mlp-ts.stdout.txt")).toContain(`${samples.length} succeeded`);
		expect(samples.length).toBe(rows.length);
		const first = Math.min(...rows.map((r) => r[0] as number));
		expect(samples[0]?.startUs).toBe(0);
		for (let i = 1; i < samples.length; i++) {
			expect(samples[i]?.startUs).toBeGreaterThanOrEqual(samples[i - 1]?.startUs as number);
		}
		// Every row is kept with its own duration and status, only re-ordered.
		const key = (start: number, status: number, us: number) => `${start}/${status}/${us}`;
		expect(samples.map((s) => key(s.startUs + first, s.status, s.durationUs)).sort()).toEqual(
			rows.map((r) => key(r[0] as number, r[1] as number, r[2] as number)).sort(),
		);
		expect(samples.every((s) => s.status === 200 && s.inferMs === null)).toBe(true);
	});

	test("'finished in' gives the run's wall time in µs", () => {
		expect(parseH2loadFinished(fixture("post-mlp-ts.stdout.txt"))).toBeCloseTo(31_570, 6);
		expect(parseH2loadFinished(fixture("flaky.stdout.txt"))).toBeCloseTo(56_420, 6);
		expect(parseH2loadFinished("finished in 812us, 0.00 req/s")).toBe(812);
		expect(parseH2loadFinished("finished in 1.50s, 10 req/s")).toBe(1_500_000);
		expect(parseH2loadFinished("no summary")).toBeNull();
	});

	test("requests whose connection died leave no row (the flaky server's run)", () => {
		const { samples } = parseH2loadLog(fixture("flaky.log.tsv"));
		expect(fixture("flaky.stdout.txt")).toContain("20 total");
		expect(fixture("flaky.stdout.txt")).toContain(`${samples.length} succeeded, 12 failed`);
		expect(samples.length).toBe(8);
	});

	test("status -1 (h2load's mark for a failed stream) is counted, not sampled", () => {
		const { samples, failed } = parseH2loadLog("100\t200\t50\n90\t-1\t70\n120\t503\t10\n");
		expect(failed).toBe(1);
		expect(samples.map((s) => [s.startUs, s.status, s.durationUs])).toEqual([
			[10, 200, 50],
			[30, 503, 10],
		]);
	});

	test("a malformed line is an error naming it; an empty log is no samples", () => {
		expect(() => parseH2loadLog("100\t200\n")).toThrow(H2loadError);
		expect(() => parseH2loadLog("a\tb\tc\n")).toThrow("h2load log line 1");
		expect(parseH2loadLog("")).toEqual({ samples: [], failed: 0 });
	});
});

describe("h2load arguments and version", () => {
	const files = { log: "/tmp/x/log.tsv", body: "/tmp/x/body" };

	test("POST: HTTP/1.1, N over C connections, one in flight, one thread, body file, content type", () => {
		const args = h2loadArgs(
			{
				url: "http://127.0.0.1:1/predict/mlp-ts",
				method: "POST",
				body: DEFAULT_BODY,
				requests: 300,
				concurrency: 32,
			},
			files,
		);
		expect(args).toEqual([
			"--h1",
			"-n",
			"300",
			"-c",
			"32",
			"-m",
			"1",
			"-t",
			"1",
			"--log-file",
			files.log,
			"-d",
			files.body,
			"-H",
			"content-type: application/json",
			"http://127.0.0.1:1/predict/mlp-ts",
		]);
	});

	test("GET has no -d or -H; duration mode is refused in one line", () => {
		const get = { url: "http://h/health", method: "GET" as const, requests: 5, concurrency: 1 };
		const args = h2loadArgs(get, files);
		expect(args).not.toContain("-d");
		expect(args).not.toContain("-H");
		expect(() => h2loadArgs({ ...get, durationMs: 1500 }, files)).toThrow(H2LOAD_NO_DURATION);
	});

	test("version from `h2load --version`; an h2load without --log-file is refused in one line", async () => {
		expect(parseH2loadVersion("h2load nghttp2/1.52.0\n")).toBe("1.52.0");
		expect(parseH2loadVersion("nothing")).toBeNull();
		const dir = tempDir("h2load-old");
		const bin = join(dir, "h2load");
		writeFileSync(
			bin,
			'#!/bin/sh\nif [ "$1" = --version ]; then echo "h2load nghttp2/1.18.0"; else echo "  --h1"; fi\n',
		);
		chmodSync(bin, 0o755);
		const error = await probeH2load({ PATH: dir }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(H2loadError);
		expect((error as Error).message).toBe("h2load 1.18.0 is too old: it has no --log-file");
		const none = await probeH2load({ PATH: tempDir("h2load-none") }).catch((e: unknown) => e);
		expect((none as Error).message).toContain("apt-get install nghttp2-client");
	});
});

describe.skipIf(!hasH2load)("h2load, a real run", () => {
	test("POSTs the body N times, warm-up separate, samples and CPU recorded", async () => {
		const bodies: string[] = [];
		const server = createServer((req, res) => {
			let body = "";
			req.on("data", (chunk: Buffer) => {
				body += chunk.toString();
			});
			req.on("end", () => {
				bodies.push(`${req.method} ${req.headers["content-type"]} ${body}`);
				res.end('{"ok":true}');
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		try {
			const { port } = server.address() as AddressInfo;
			const generator = await probeH2load();
			expect(generator.info.name).toBe("h2load");
			const result = await generator.run({
				url: `http://127.0.0.1:${port}/predict/mlp-ts`,
				method: "POST",
				body: DEFAULT_BODY,
				contentType: "application/json",
				requests: 50,
				concurrency: 4,
				warmup: 10,
			});
			expect(result.samples.length).toBe(50);
			expect(result.errors).toBe(0);
			expect(result.samples.every((s) => s.status === 200)).toBe(true);
			expect(result.wallUs).toBeGreaterThan(0);
			// 10 warm-up requests in their own run, then the 50 measured.
			expect(bodies.length).toBe(60);
			expect(new Set(bodies)).toEqual(new Set([`POST application/json ${DEFAULT_BODY}`]));
			expect(result.cpu?.cpuMs).toBeGreaterThanOrEqual(0);
			expect(result.cpu?.wallMs).toBeGreaterThan(0);
		} finally {
			server.close();
		}
	});

	test("a server that is not there: every request an error, no samples", async () => {
		const generator = await probeH2load();
		const result = await generator.run({
			url: "http://127.0.0.1:1/health",
			method: "GET",
			requests: 4,
			concurrency: 2,
		});
		expect(result.samples).toEqual([]);
		expect(result.errors).toBe(4);
	});
});
