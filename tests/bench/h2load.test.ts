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
	targetErrorsOf,
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

	test("an interleaved run: rows by start tagged target i mod n and index i, failed rows keeping their place", () => {
		// Rows come in end order; by start: 100 (t0), 110 (t1, failed), 120 (t0), 130 (t1).
		const text = "120\t200\t5\n100\t200\t4\n130\t200\t9\n110\t-1\t8\n";
		const { samples, failed } = parseH2loadLog(text, 2);
		expect(failed).toBe(1);
		expect(samples.map((s) => [s.startUs, s.target, s.index, s.durationUs])).toEqual([
			[0, 0, 0, 4],
			[20, 0, 2, 5],
			[30, 1, 3, 9],
		]);
		// One URL: untagged, as before.
		expect(parseH2loadLog(text).samples.every((s) => s.target === undefined)).toBe(true);
		// Per target, its share of the N requests minus its samples.
		expect(targetErrorsOf(samples, 4, 2)).toEqual([0, 1]);
		expect(targetErrorsOf(samples, 5, 2)).toEqual([1, 1]);
	});

	test("in blocks: row i by start went to target floor(i / block) mod n", () => {
		const text = Array.from({ length: 8 }, (_, i) => `${100 + i}\t200\t${i}`).join("\n");
		const { samples } = parseH2loadLog(text, 2, 3);
		expect(samples.map((s) => s.target)).toEqual([0, 0, 0, 1, 1, 1, 0, 0]);
		// 8 requests in blocks of 3: target 0 was sent 5, target 1 3; none lost.
		expect(targetErrorsOf(samples, 8, 2, 3)).toEqual([0, 0]);
		expect(targetErrorsOf(samples.slice(0, 5), 8, 2, 3)).toEqual([2, 1]);
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

	test("targets (routes of one origin): their URIs in order after one -d and one content type", () => {
		const post = (path: string) => ({
			method: "POST" as const,
			url: `http://127.0.0.1:1${path}`,
			body: DEFAULT_BODY,
		});
		const interleaved = {
			url: "http://127.0.0.1:1/predict/mlp-ts",
			method: "POST" as const,
			body: DEFAULT_BODY,
			requests: 20,
			concurrency: 1,
			targets: [post("/bench/floor-post"), post("/predict/mlp-ts")],
		};
		const args = h2loadArgs(interleaved, files);
		expect(args.slice(0, 3)).toEqual(["--h1", "-n", "20"]);
		expect(args.slice(-6)).toEqual([
			"-d",
			files.body,
			"-H",
			"content-type: application/json",
			"http://127.0.0.1:1/bench/floor-post",
			"http://127.0.0.1:1/predict/mlp-ts",
		]);
		expect(args.filter((a) => a === "-d")).toHaveLength(1);
		const blocked = h2loadArgs({ ...interleaved, block: 2 }, files);
		expect(blocked.slice(-4)).toEqual([
			"http://127.0.0.1:1/bench/floor-post",
			"http://127.0.0.1:1/bench/floor-post",
			"http://127.0.0.1:1/predict/mlp-ts",
			"http://127.0.0.1:1/predict/mlp-ts",
		]);
	});

	test("targets it cannot send in turn are refused by name, never sent as something else", () => {
		const post = (url: string, body = DEFAULT_BODY) => ({ method: "POST" as const, url, body });
		const base = {
			url: "http://h:1/a",
			method: "POST" as const,
			requests: 4,
			concurrency: 1,
			targets: [post("http://h:1/a"), post("http://h:1/b")],
		};
		const cases: [object, string][] = [
			[{ targets: [post("http://h:1/a"), post("http://h:2/b")] }, "share one origin"],
			[{ targets: [post("http://h:1/a"), post("http://h:1/b", "{}")] }, "share method and body"],
			[
				{ targets: [post("http://h:1/a"), { method: "GET", url: "http://h:1/health", body: "" }] },
				"share method and body",
			],
			[{ concurrency: 2 }, "concurrency 1 only"],
			[{ alternate: true }, "not alternated"],
		];
		for (const [change, why] of cases) {
			const run = () => h2loadArgs({ ...base, ...change }, files);
			expect(run).toThrow(H2loadError);
			expect(run).toThrow(`h2load cannot take these targets: `);
			expect(run).toThrow(why);
		}
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

/**
 * A stand-in h2load: the version and flags the probe wants, and for a run `-n` rows of 200 in its
 * --log-file, each run's `-n` appended to $FAKE_H2LOAD_RUNS.
 */
function fakeH2load(): { env: NodeJS.ProcessEnv; runsFile: string } {
	const dir = tempDir("h2load-fake");
	const runsFile = join(dir, "runs.txt");
	writeFileSync(
		join(dir, "h2load"),
		`#!/bin/sh
if [ "$1" = --version ]; then echo "h2load nghttp2/1.52.0"; exit 0; fi
if [ "$1" = --help ]; then echo "  --h1  --log-file=<PATH>"; exit 0; fi
n=0; log=/dev/null
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift ;;
    --log-file) log="$2"; shift ;;
  esac
  shift
done
i=0
while [ "$i" -lt "$n" ]; do printf '%s\t200\t100\n' "$((1764150000000000 + i))" >> "$log"; i=$((i + 1)); done
echo "$n" >> "$FAKE_H2LOAD_RUNS"
echo "finished in 1.00ms, 1000.00 req/s, 1.00KB/s"
`,
	);
	chmodSync(join(dir, "h2load"), 0o755);
	return {
		env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, FAKE_H2LOAD_RUNS: runsFile },
		runsFile,
	};
}

describe("h2load: host steal", () => {
	test("snapshots right around the measured h2load run only, when asked", async () => {
		const { env, runsFile } = fakeH2load();
		// Each snapshot notes the h2load runs (their -n) finished by then.
		const seen: { cpuList: string | undefined; runs: string[] }[] = [];
		const read = (cpuList: string | undefined) => {
			seen.push({ cpuList, runs: readFileSync(runsFile, "utf8").trim().split("\n") });
			return { total: 300 * seen.length, steal: 63 * seen.length };
		};
		const generator = await probeH2load(env, read);
		const request = {
			url: "http://127.0.0.1:1/health",
			method: "GET" as const,
			requests: 50,
			concurrency: 4,
			warmup: 10,
		};
		const without = await generator.run(request);
		expect(without.samples).toHaveLength(50);
		expect("hostStealPct" in without).toBe(false);
		expect(seen).toEqual([]);
		const result = await generator.run({ ...request, steal: { cpuList: "0" } });
		// The first call's warm-up and run, then this one's warm-up; then its measured run.
		expect(seen).toEqual([
			{ cpuList: "0", runs: ["10", "50", "10"] },
			{ cpuList: "0", runs: ["10", "50", "10", "50"] },
		]);
		expect(result.hostStealPct).toBe(21);
		expect(result.samples).toHaveLength(50);
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
			// Host steal on every CPU, each snapshot noting how many requests the server had.
			const snapshots: number[] = [];
			const generator = await probeH2load(process.env, () => {
				snapshots.push(bodies.length);
				return null;
			});
			expect(generator.info.name).toBe("h2load");
			const result = await generator.run({
				url: `http://127.0.0.1:${port}/predict/mlp-ts`,
				method: "POST",
				body: DEFAULT_BODY,
				contentType: "application/json",
				requests: 50,
				concurrency: 4,
				warmup: 10,
				steal: {},
			});
			expect(snapshots).toEqual([10, 60]);
			expect(result.hostStealPct).toBeNull();
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

	test("two routes of one server in turn: the slow route's samples are those tagged target 1", async () => {
		const seen: string[] = [];
		const server = createServer((req, res) => {
			req.resume();
			req.on("end", () => {
				seen.push(req.url ?? "");
				// Told apart by status, which holds on any machine; the sleep makes it the slow one.
				if (req.url === "/slow") {
					setTimeout(() => {
						res.statusCode = 201;
						res.end("slow");
					}, 5);
				} else res.end("fast");
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		try {
			const { port } = server.address() as AddressInfo;
			const at = (path: string) => ({
				method: "POST" as const,
				url: `http://127.0.0.1:${port}${path}`,
				body: DEFAULT_BODY,
			});
			const generator = await probeH2load();
			const both = {
				url: at("/slow").url,
				method: "POST" as const,
				body: DEFAULT_BODY,
				contentType: "application/json",
				concurrency: 1,
				targets: [at("/fast"), at("/slow")],
			};
			const result = await generator.run({ ...both, requests: 20, warmup: 4 });
			expect(result.errors).toBe(0);
			expect(result.targetErrors).toEqual([0, 0]);
			expect(result.samples.map((s) => s.index)).toEqual([...Array(20).keys()]);
			expect(result.samples.map((s) => s.target)).toEqual(
				Array.from({ length: 20 }, (_, i) => i % 2),
			);
			// The server saw them in the same turn, warm-up (its own run) first.
			expect(seen).toEqual(Array.from({ length: 24 }, (_, i) => (i % 2 ? "/slow" : "/fast")));
			const slow = result.samples.filter((s) => s.target === 1);
			expect(slow.map((s) => s.status)).toEqual(Array(10).fill(201));
			expect(result.samples.filter((s) => s.target === 0).every((s) => s.status === 200)).toBe(
				true,
			);
			// Each includes the route's 5 ms sleep (libuv's timer may fire up to ~1 ms early).
			expect(Math.min(...slow.map((s) => s.durationUs))).toBeGreaterThanOrEqual(4000);
			// In blocks of 3: fast fast fast slow slow slow ..., tagged as sent.
			const blocked = await generator.run({ ...both, requests: 12, block: 3 });
			const turn = Array.from({ length: 12 }, (_, i) => Math.floor(i / 3) % 2);
			expect(blocked.samples.map((s) => s.target)).toEqual(turn);
			expect(blocked.samples.map((s) => s.status)).toEqual(turn.map((t) => (t ? 201 : 200)));
			expect(seen.slice(24)).toEqual(turn.map((t) => (t ? "/slow" : "/fast")));
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
