import process from "node:process";
import type { MetricsRegistry } from "./registry.ts";

/**
 * The standard process metrics, read at scrape time through node:process, which Node, Bun and
 * Deno implement alike. Deno answers them without any permission (tested with deno.json's
 * flags), unlike reading /proc/self, which its --allow-read=. does not cover.
 */
export function registerProcessMetrics(registry: MetricsRegistry): void {
	// The time origin of this copy of the server: its counters started then.
	const startSeconds = performance.timeOrigin / 1000;
	registry.observed(
		"process_cpu_seconds_total",
		"Total user and system CPU time spent in seconds.",
		"counter",
		() => {
			const { user, system } = process.cpuUsage();
			return (user + system) / 1e6;
		},
	);
	registry.observed(
		"process_resident_memory_bytes",
		"Resident memory size in bytes.",
		"gauge",
		() => process.memoryUsage.rss(),
	);
	registry.observed(
		"process_start_time_seconds",
		"Start time of the process since unix epoch in seconds.",
		"gauge",
		() => startSeconds,
	);
}
