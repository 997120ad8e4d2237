import type { Preprocessing } from "../inference/manifest.ts";
import type { PassengerFeatures } from "../inference/preprocess.ts";
import { meanAndStd } from "./metrics.ts";

/** The median, averaging the two middle values of an even count. */
export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	const upper = sorted[middle] ?? Number.NaN;
	return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/**
 * Fits the preprocessing constants on the given rows only (the training split), so nothing about
 * the held-out rows leaks into the features.
 */
export function fitPreprocessing(passengers: readonly PassengerFeatures[]): Preprocessing {
	const knownAges = passengers.flatMap((p) =>
		p.Age === null || p.Age === undefined ? [] : [p.Age],
	);
	const ageMedian = median(knownAges);
	const ages = passengers.map((p) => p.Age ?? ageMedian);
	const fares = passengers.map((p) => p.Fare);
	return {
		sex: { female: 0, male: 1 },
		ageMedian,
		scaler: { Age: meanAndStd(ages), Fare: meanAndStd(fares) },
	};
}
