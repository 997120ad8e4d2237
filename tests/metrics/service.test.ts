import { describe, expect, test } from "bun:test";
import {
	BATCH_SIZE_BUCKETS,
	createServiceMetrics,
	LATENCY_BUCKETS,
} from "../../src/metrics/service.ts";

/** The sample lines of one metric family, without its HELP and TYPE. */
const samples = (text: string, name: string) =>
	text.split("\n").filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

describe("the service's metrics", () => {
	test("every model's series exist from the start, at zero", () => {
		const text = createServiceMetrics(["a", "b"]).expose();
		expect(samples(text, "inference_requests_total")).toEqual([
			'inference_requests_total{model="a",outcome="success"} 0',
			'inference_requests_total{model="a",outcome="failure"} 0',
			'inference_requests_total{model="b",outcome="success"} 0',
			'inference_requests_total{model="b",outcome="failure"} 0',
		]);
		for (const name of [
			"inference_request_duration_seconds",
			"inference_compute_duration_seconds",
			"inference_batch_size",
		]) {
			expect(samples(text, `${name}_count`)).toEqual([
				`${name}_count{model="a"} 0`,
				`${name}_count{model="b"} 0`,
			]);
		}
		expect(samples(text, "http_requests_total")).toEqual([]);
	});

	test("latency buckets start at 10 us and end at 10 s; batch sizes are powers of two to 1024", () => {
		expect(LATENCY_BUCKETS[0]).toBe(0.00001);
		expect(LATENCY_BUCKETS.at(-1)).toBe(10);
		expect(BATCH_SIZE_BUCKETS).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
		const text = createServiceMetrics(["m"]).expose();
		expect(samples(text, "inference_request_duration_seconds_bucket").slice(0, 4)).toEqual([
			'inference_request_duration_seconds_bucket{model="m",le="0.00001"} 0',
			'inference_request_duration_seconds_bucket{model="m",le="0.000025"} 0',
			'inference_request_duration_seconds_bucket{model="m",le="0.00005"} 0',
			'inference_request_duration_seconds_bucket{model="m",le="0.0001"} 0',
		]);
	});

	test("a success records the request, the compute time and the batch; a failure only counts", () => {
		const metrics = createServiceMetrics(["m"]);
		const m = metrics.model("m");
		m.succeeded(0.00004, 0.00002, 5);
		m.succeeded(0.0002, 0.00001, 1);
		m.failed();
		const text = metrics.expose();
		expect(samples(text, "inference_requests_total")).toEqual([
			'inference_requests_total{model="m",outcome="success"} 2',
			'inference_requests_total{model="m",outcome="failure"} 1',
		]);
		expect(samples(text, "inference_request_duration_seconds_bucket").slice(2, 5)).toEqual([
			'inference_request_duration_seconds_bucket{model="m",le="0.00005"} 1',
			'inference_request_duration_seconds_bucket{model="m",le="0.0001"} 1',
			'inference_request_duration_seconds_bucket{model="m",le="0.00025"} 2',
		]);
		expect(samples(text, "inference_compute_duration_seconds_bucket")[0]).toBe(
			'inference_compute_duration_seconds_bucket{model="m",le="0.00001"} 1',
		);
		expect(samples(text, "inference_batch_size_sum")).toEqual([
			'inference_batch_size_sum{model="m"} 6',
		]);
		expect(samples(text, "inference_batch_size_bucket").slice(0, 4)).toEqual([
			'inference_batch_size_bucket{model="m",le="1"} 1',
			'inference_batch_size_bucket{model="m",le="2"} 1',
			'inference_batch_size_bucket{model="m",le="4"} 1',
			'inference_batch_size_bucket{model="m",le="8"} 2',
		]);
	});

	test("a model not given at startup has no series", () => {
		expect(() => createServiceMetrics(["m"]).model("other")).toThrow(
			'no metrics for model "other"',
		);
	});

	test("any string is a model id: it is escaped in the label", () => {
		const text = createServiceMetrics(['my "model"\\v2']).expose();
		expect(text).toContain(
			'inference_requests_total{model="my \\"model\\"\\\\v2",outcome="success"} 0',
		);
	});

	test("the process metrics, read at scrape time", () => {
		const text = createServiceMetrics([]).expose();
		for (const name of [
			"process_cpu_seconds_total",
			"process_resident_memory_bytes",
			"process_start_time_seconds",
		]) {
			const [line] = samples(text, name);
			expect(Number(line?.split(" ")[1])).toBeGreaterThan(0);
		}
		expect(text).toContain("# TYPE process_cpu_seconds_total counter");
		expect(text).toContain("# TYPE process_resident_memory_bytes gauge");
		const start = Number(samples(text, "process_start_time_seconds")[0]?.split(" ")[1]);
		expect(start).toBeLessThanOrEqual(Date.now() / 1000);
	});
});

describe("http_requests_total", () => {
	const counted = (requests: [route: string | undefined, method: string, status: number][]) => {
		const metrics = createServiceMetrics([]);
		metrics.http.addRoutes(["/health", "/predict/:model"]);
		for (const [route, method, status] of requests) {
			metrics.http.count(metrics.http.route(route), method, status);
		}
		return samples(metrics.expose(), "http_requests_total");
	};

	test("by route pattern, method and status, each series created when first seen", () => {
		expect(
			counted([
				["/predict/:model", "POST", 200],
				["/predict/:model", "POST", 200],
				["/predict/:model", "POST", 400],
				["/health", "GET", 200],
				["/health", "HEAD", 200],
			]),
		).toEqual([
			'http_requests_total{method="POST",route="/predict/:model",status="200"} 2',
			'http_requests_total{method="POST",route="/predict/:model",status="400"} 1',
			'http_requests_total{method="GET",route="/health",status="200"} 1',
			'http_requests_total{method="HEAD",route="/health",status="200"} 1',
		]);
	});

	test("undeclared routes share one label, other methods another", () => {
		expect(
			counted([
				["/wp-admin", "GET", 404],
				["/.env", "GET", 404],
				[undefined, "GET", 404],
				["/health", "BREW", 405],
				["/health", "PROPFIND", 405],
				["/health", "get", 405],
			]),
		).toEqual([
			'http_requests_total{method="GET",route="unmatched",status="404"} 3',
			'http_requests_total{method="other",route="/health",status="405"} 3',
		]);
	});

	test("every usual method keeps its name", () => {
		const methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
		const lines = counted(methods.map((m) => ["/health", m, 405]));
		expect(lines.map((l) => /method="(\w+)"/.exec(l)?.[1])).toEqual(methods);
	});
});
