import { describe, expect, test } from "bun:test";
import {
	escapeHelp,
	escapeLabelValue,
	formatValue,
	labelSet,
} from "../../src/metrics/exposition.ts";
import { MetricsRegistry } from "../../src/metrics/registry.ts";

describe("exposition text", () => {
	test("a tiny registry, exactly", () => {
		const registry = new MetricsRegistry();
		const requests = registry.counter("jobs_total", "Jobs done.", ["queue", "outcome"]);
		requests.series("fast", "success").inc();
		requests.series("slow", "failure").inc(2);
		const latency = registry.histogram("job_duration_seconds", "Job time.", ["queue"], [0.1, 1]);
		const fast = latency.series("fast");
		for (const seconds of [0.05, 0.1, 0.5, 3]) fast.observe(seconds);
		registry.observed("up_seconds", "Seconds up.", "gauge", () => 12.5);
		expect(registry.expose()).toBe(
			[
				"# HELP jobs_total Jobs done.",
				"# TYPE jobs_total counter",
				'jobs_total{queue="fast",outcome="success"} 1',
				'jobs_total{queue="slow",outcome="failure"} 2',
				"# HELP job_duration_seconds Job time.",
				"# TYPE job_duration_seconds histogram",
				'job_duration_seconds_bucket{queue="fast",le="0.1"} 2',
				'job_duration_seconds_bucket{queue="fast",le="1"} 3',
				'job_duration_seconds_bucket{queue="fast",le="+Inf"} 4',
				'job_duration_seconds_sum{queue="fast"} 3.65',
				'job_duration_seconds_count{queue="fast"} 4',
				"# HELP up_seconds Seconds up.",
				"# TYPE up_seconds gauge",
				"up_seconds 12.5",
				"",
			].join("\n"),
		);
	});

	test("histogram buckets are cumulative, a value on a bound falls in it, +Inf holds all", () => {
		const registry = new MetricsRegistry();
		const h = registry.histogram("size", "Sizes.", [], [1, 2, 4]);
		const series = h.series();
		for (const value of [1, 1, 2, 3, 4, 5, 1000]) series.observe(value);
		const lines = registry.expose().split("\n");
		expect(lines.filter((l) => l.startsWith("size_"))).toEqual([
			'size_bucket{le="1"} 2',
			'size_bucket{le="2"} 3',
			'size_bucket{le="4"} 5',
			'size_bucket{le="+Inf"} 7',
			"size_sum 1016",
			"size_count 7",
		]);
	});

	test("a series with no observations shows every bucket at 0", () => {
		const registry = new MetricsRegistry();
		registry.histogram("idle_seconds", "Idle.", ["model"], [0.00001, 0.5]).series("m");
		expect(registry.expose()).toContain(
			[
				'idle_seconds_bucket{model="m",le="0.00001"} 0',
				'idle_seconds_bucket{model="m",le="0.5"} 0',
				'idle_seconds_bucket{model="m",le="+Inf"} 0',
				'idle_seconds_sum{model="m"} 0',
				'idle_seconds_count{model="m"} 0',
			].join("\n"),
		);
	});

	test("label values escape backslash, double quote and line feed; HELP escapes backslash and line feed", () => {
		expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
		expect(escapeHelp('say "hi"\\\nbye')).toBe('say "hi"\\\\\\nbye');
		const registry = new MetricsRegistry();
		registry
			.counter("odd_total", 'Odd "names"\\ here\nand there.', ["name"])
			.series('x"\\\ny')
			.inc();
		expect(registry.expose()).toBe(
			[
				'# HELP odd_total Odd "names"\\\\ here\\nand there.',
				"# TYPE odd_total counter",
				'odd_total{name="x\\"\\\\\\ny"} 1',
				"",
			].join("\n"),
		);
	});

	test("values: integers, fractions, exponents, infinities and NaN as Prometheus parses them", () => {
		expect(formatValue(3)).toBe("3");
		expect(formatValue(0.000025)).toBe("0.000025");
		expect(formatValue(1e-7)).toBe("1e-7");
		expect(formatValue(1e21)).toBe("1e+21");
		expect(formatValue(Number.POSITIVE_INFINITY)).toBe("+Inf");
		expect(formatValue(Number.NEGATIVE_INFINITY)).toBe("-Inf");
		expect(formatValue(Number.NaN)).toBe("NaN");
	});

	test("label sets keep the order of the names", () => {
		expect(labelSet([], [])).toBe("");
		expect(labelSet(["b", "a"], ["1", "2"])).toBe('{b="1",a="2"}');
		expect(() => labelSet(["a"], [])).toThrow("expected 1 label value(s), got 0");
	});
});

describe("registration errors surface at startup", () => {
	test("names Prometheus would reject", () => {
		const registry = new MetricsRegistry();
		expect(() => registry.counter("1st_total", "x")).toThrow("invalid metric name");
		expect(() => registry.counter("a-b_total", "x")).toThrow("invalid metric name");
		expect(() => registry.counter("ok_total", "x", ["__reserved"])).toThrow("invalid label name");
		expect(() => registry.counter("ok_total", "x", ["a b"])).toThrow("invalid label name");
		expect(() => registry.histogram("h", "x", ["le"], [1])).toThrow('"le" is the bucket label');
	});

	test("buckets must be finite and strictly increasing", () => {
		const registry = new MetricsRegistry();
		for (const buckets of [[], [1, 1], [2, 1], [1, Number.POSITIVE_INFINITY]]) {
			expect(() => registry.histogram(`h${buckets.length}`, "x", [], buckets)).toThrow(
				"buckets must be finite and strictly increasing",
			);
		}
	});

	test("a family or a series twice", () => {
		const registry = new MetricsRegistry();
		const c = registry.counter("twice_total", "x", ["a"]);
		c.series("1");
		expect(() => c.series("1")).toThrow('twice_total{a="1"} exists already');
		expect(() => registry.counter("twice_total", "y")).toThrow("registered twice");
	});
});
