import type { Sample } from "./loadgen/types.ts";

interface Stats {
	/** Responses received, whatever their status. */
	count: number;
	/** Requests that got no response. */
	errors: number;
	statusCodes: Record<string, number>;
	/** Latency fields are null when no response came back at all. */
	avgMs: number | null;
	minMs: number | null;
	maxMs: number | null;
	/** Sum of the request durations: the reference benchmark's "Total". */
	totalMs: number;
	/** Elapsed time of the whole run. */
	wallMs: number;
	/** Population variance of the durations, ms². */
	varianceMs2: number | null;
	p50Ms: number | null;
	p90Ms: number | null;
	p99Ms: number | null;
	p999Ms: number | null;
	/** Responses per second of wall time, as oha's requestsPerSec. */
	rps: number;
}

/**
 * oha's percentile, so both generators' numbers mean the same: sorted[floor(pct/100 * n)], with
 * no interpolation (oha src/result_data.rs, percentile_iter; the float expression is kept as
 * oha's so ranks match exactly). Where pct/100*n is a whole number this is one rank above the
 * textbook nearest rank sorted[ceil(p*n)-1]: p50 of 1000 samples is sorted[500], not sorted[499].
 */
export function percentile(sorted: readonly number[], pct: number): number | null {
	if (sorted.length === 0) return null;
	const index = Math.min(sorted.length - 1, Math.floor((pct / 100) * sorted.length));
	return sorted[index] as number;
}

/** The middle value; for an even count, the mean of the middle two. */
export function median(values: readonly number[]): number | null {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 === 1
		? (sorted[mid] as number)
		: ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Status codes outside 2xx with their counts, in the order the record holds them. */
export function non2xx(
	statusCodes: Readonly<Record<string, number>>,
): [code: string, count: number][] {
	return Object.entries(statusCodes).filter(([code]) => !code.startsWith("2"));
}

export function computeStats(samples: readonly Sample[], errors: number, wallUs: number): Stats {
	const durations = samples.map((s) => s.durationUs / 1000).sort((a, b) => a - b);
	const n = durations.length;
	const statusCodes: Record<string, number> = {};
	for (const s of samples) statusCodes[s.status] = (statusCodes[s.status] ?? 0) + 1;
	let total = 0;
	for (const d of durations) total += d;
	const avg = total / n;
	// Two-pass variance: the one-pass sum-of-squares form loses digits when the spread is small.
	let squares = 0;
	for (const d of durations) squares += (d - avg) ** 2;
	const wallMs = wallUs / 1000;
	return {
		count: n,
		errors,
		statusCodes,
		avgMs: n > 0 ? avg : null,
		minMs: n > 0 ? (durations[0] as number) : null,
		maxMs: n > 0 ? (durations[n - 1] as number) : null,
		totalMs: total,
		wallMs,
		varianceMs2: n > 0 ? squares / n : null,
		p50Ms: percentile(durations, 50),
		p90Ms: percentile(durations, 90),
		p99Ms: percentile(durations, 99),
		p999Ms: percentile(durations, 99.9),
		rps: wallMs > 0 ? n / (wallMs / 1000) : 0,
	};
}

/** Wall time from samples alone, for generators that only report per-request rows. */
export function wallUsOf(samples: readonly Sample[]): number {
	let end = 0;
	for (const s of samples) end = Math.max(end, s.startUs + s.durationUs);
	return end;
}
