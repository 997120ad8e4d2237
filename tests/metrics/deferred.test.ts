import { expect, test } from "bun:test";
import { DeferredRecords } from "../../src/metrics/deferred.ts";
import { createServiceMetrics } from "../../src/metrics/service.ts";

test("records are applied in order: when the array is full, and on flush", () => {
	const applied: number[][] = [];
	const records = new DeferredRecords(2, (r, o) => {
		applied.push(Array.from(r.subarray(o, o + 5)));
	});
	for (let i = 0; i < 5; i++) records.add(i, i + 0.5, -i, 10 * i, 7);
	// Two were full twice: the first four are applied, the fifth waits.
	expect(applied.map((a) => a[0])).toEqual([0, 1, 2, 3]);
	records.flush();
	expect(applied).toEqual([0, 1, 2, 3, 4].map((i) => [i, i + 0.5, -i, 10 * i, 7]));
	records.flush();
	expect(applied).toHaveLength(5);
});

test("a prediction's success shows in the exposition, beyond the pending array's capacity", () => {
	const metrics = createServiceMetrics(["a", "b"]);
	const route = metrics.http.addRoute("/predict/:model");
	for (let i = 0; i < 2500; i++)
		metrics.model(i % 5 === 0 ? "b" : "a").succeeded(0.00003, 0.00001, 2, route);
	metrics.model("a").succeeded(0.00003, 0.00001, 1);
	const text = metrics.expose();
	expect(text).toContain('inference_requests_total{model="a",outcome="success"} 2001\n');
	expect(text).toContain('inference_requests_total{model="b",outcome="success"} 500\n');
	expect(text).toContain('inference_batch_size_sum{model="a"} 4001\n');
	// The one without a route is not an HTTP request of its own.
	expect(text).toContain(
		'http_requests_total{method="POST",route="/predict/:model",status="200"} 2500\n',
	);
});
