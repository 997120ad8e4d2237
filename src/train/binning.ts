/**
 * Histogram binning in LightGBM's style: each feature's values are cut into at most `maxBin`
 * bins once, up front, and split finding then scans bin histograms instead of sorted values.
 */
export interface FeatureBins {
	/**
	 * Ascending float32 cut points; bin b holds values v with thresholds[b-1] < v <= thresholds[b],
	 * the last bin everything above the last cut. A split "at bin b" is the ONNX test
	 * x <= thresholds[b].
	 */
	thresholds: number[];
}

/**
 * A float32 cut strictly usable between two adjacent distinct float32 values `low` < `high`:
 * the midpoint when it rounds to a value below `high`, otherwise `low` itself. Either way
 * low <= cut < high, so no training value sits ambiguously on a threshold.
 */
export function cutBetween(low: number, high: number): number {
	const middle = Math.fround(low + (high - low) / 2);
	return middle < high && middle >= low ? middle : low;
}

/** Cut points for one feature from its (float32) training values. */
export function fitFeatureBins(values: ArrayLike<number>, maxBin: number): FeatureBins {
	const counts = new Map<number, number>();
	for (let i = 0; i < values.length; i++) {
		const v = values[i] ?? 0;
		counts.set(v, (counts.get(v) ?? 0) + 1);
	}
	const distinct = [...counts.keys()].sort((a, b) => a - b);
	if (distinct.length <= maxBin) {
		const thresholds: number[] = [];
		for (let i = 0; i + 1 < distinct.length; i++) {
			thresholds.push(cutBetween(distinct[i] ?? 0, distinct[i + 1] ?? 0));
		}
		return { thresholds };
	}
	// Too many distinct values: close a bin whenever it holds about total/maxBin rows, never
	// cutting between equal values.
	const perBin = values.length / maxBin;
	const thresholds: number[] = [];
	let inBin = 0;
	for (let i = 0; i + 1 < distinct.length && thresholds.length < maxBin - 1; i++) {
		const value = distinct[i] ?? 0;
		inBin += counts.get(value) ?? 0;
		if (inBin >= perBin) {
			thresholds.push(cutBetween(value, distinct[i + 1] ?? 0));
			inBin = 0;
		}
	}
	return { thresholds };
}

/** The bin a value falls into: the first cut it is <= to, else the last bin. */
export function binOf(value: number, bins: FeatureBins): number {
	const { thresholds } = bins;
	let low = 0;
	let high = thresholds.length;
	while (low < high) {
		const middle = (low + high) >> 1;
		if (value <= (thresholds[middle] ?? 0)) high = middle;
		else low = middle + 1;
	}
	return low;
}
