import type { Sample } from "./loadgen/types.ts";
import type { Pair } from "./results.ts";
import { median, percentile } from "./stats.ts";

/**
 * The paired measurement of --metrics on,off: one generator run alternates requests between two
 * servers that are up at once (A B, B A, A B, ...). Requests 2k and 2k+1 of the measured ones form
 * pair k, one request to each server, sent back to back on the same client, so whatever the
 * machine is doing at that moment weighs on both; the median of the per-pair differences then
 * resolves a few microseconds that comparing two servers measured one after the other cannot.
 */

type PairFigures = Omit<Pair, "runtime" | "workers" | "model" | "concurrency" | "round" | "first">;

const ok = (s: Sample | undefined): s is Sample =>
	s !== undefined && s.status >= 200 && s.status < 300;

/**
 * The samples of one alternating run over two targets, split back into the two servers' pairs.
 * `onTarget` is the target index (0 or 1) of the METRICS=on server. A pair counts only when both of
 * its requests got a 2xx response; differences are on − off, in ms. Quartiles use the same rank
 * rule as every percentile of the bench (stats.ts); the medians are exact (mean of the middle two
 * for an even count).
 */
export function pairFigures(samples: readonly Sample[], onTarget: 0 | 1): PairFigures {
	const byIndex = new Map<number, Sample>();
	for (const sample of samples) {
		if (sample.index === undefined || sample.target === undefined) {
			throw new Error("paired samples need the target and index of each request");
		}
		byIndex.set(sample.index, sample);
	}
	const diffs: number[] = [];
	const onFirst: number[] = [];
	const offFirst: number[] = [];
	const last = Math.max(-1, ...byIndex.keys());
	for (let first = 0; first + 1 <= last; first += 2) {
		const [x, y] = [byIndex.get(first), byIndex.get(first + 1)];
		if (!ok(x) || !ok(y) || x.target === y.target) continue;
		const [on, off] = x.target === onTarget ? [x, y] : [y, x];
		const diff = (on.durationUs - off.durationUs) / 1000;
		diffs.push(diff);
		(x.target === onTarget ? onFirst : offFirst).push(diff);
	}
	const sorted = [...diffs].sort((a, b) => a - b);
	return {
		pairs: diffs.length,
		medianDiffMs: median(diffs),
		p25DiffMs: percentile(sorted, 25),
		p75DiffMs: percentile(sorted, 75),
		onFirstMedianDiffMs: median(onFirst),
		offFirstMedianDiffMs: median(offFirst),
	};
}

/**
 * The order-balanced paired figure: the mean of the median over the pairs where the on server went
 * first and the median over those where the off server did. In the A B, B A, A B, ... sequence the
 * first request of every pair goes to the server that also served the request before it, and on
 * a shared machine that repeat is markedly faster (measured: 5-100 µs, more for the onnx models)
 * than a request to the server that sat out two; so the per-pair differences fall in two clusters,
 * around (cost − that effect) and (cost + it), and their pooled median lands anywhere between
 * them. Each cluster's own median is well defined, and their mean cancels the effect.
 */
export function balancedDiffMs(
	pair: Pick<Pair, "onFirstMedianDiffMs" | "offFirstMedianDiffMs">,
): number | null {
	const { onFirstMedianDiffMs: a, offFirstMedianDiffMs: b } = pair;
	return a === null || b === null ? null : (a + b) / 2;
}

/** The samples of one target, e.g. one server of a pair. */
export const samplesOf = (samples: readonly Sample[], target: number): Sample[] =>
	samples.filter((s) => (s.target ?? 0) === target);

/**
 * A share of the run's wall time for one server of a pair: the run's wall time times that server's
 * share of the summed request durations, so its req/s reads as a server measured alone at
 * concurrency 1 would (one request after another, the generator's gaps included).
 */
export function apportionWallUs(
	wallUs: number,
	side: readonly Sample[],
	all: readonly Sample[],
): number {
	const sum = (xs: readonly Sample[]) => xs.reduce((total, s) => total + s.durationUs, 0);
	const total = sum(all);
	return total > 0 ? (wallUs * sum(side)) / total : 0;
}
