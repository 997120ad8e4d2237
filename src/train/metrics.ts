/** Held-out quality of survival probabilities against 0/1 labels. */
export interface BinaryMetrics {
	accuracy: number;
	rocAuc: number;
	logLoss: number;
}

/** A probability of at least 0.5 predicts survival, as the service labels it. */
export function accuracy(labels: ArrayLike<number>, probabilities: ArrayLike<number>): number {
	let correct = 0;
	for (let i = 0; i < labels.length; i++) {
		const predicted = (probabilities[i] ?? 0) >= 0.5 ? 1 : 0;
		if (predicted === labels[i]) correct++;
	}
	return correct / labels.length;
}

/**
 * The probability that a random survivor scores above a random non-survivor, ties counting half
 * (the Mann-Whitney statistic with mid-ranks).
 */
export function rocAuc(labels: ArrayLike<number>, probabilities: ArrayLike<number>): number {
	const order = Array.from({ length: labels.length }, (_, i) => i).sort(
		(a, b) => (probabilities[a] ?? 0) - (probabilities[b] ?? 0),
	);
	let positives = 0;
	let positiveRankSum = 0;
	for (let start = 0; start < order.length; ) {
		let end = start;
		const score = probabilities[order[start] ?? 0];
		while (end < order.length && probabilities[order[end] ?? 0] === score) end++;
		const midRank = (start + 1 + end) / 2;
		for (let i = start; i < end; i++) {
			if (labels[order[i] ?? 0] === 1) {
				positives++;
				positiveRankSum += midRank;
			}
		}
		start = end;
	}
	const negatives = labels.length - positives;
	if (positives === 0 || negatives === 0) return 0.5;
	return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, probabilities clipped away from 0 and 1 as scikit-learn does. */
export function logLoss(labels: ArrayLike<number>, probabilities: ArrayLike<number>): number {
	const epsilon = 1e-15;
	let total = 0;
	for (let i = 0; i < labels.length; i++) {
		const p = Math.min(Math.max(probabilities[i] ?? 0, epsilon), 1 - epsilon);
		total -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
	}
	return total / labels.length;
}

export function binaryMetrics(
	labels: ArrayLike<number>,
	probabilities: ArrayLike<number>,
): BinaryMetrics {
	return {
		accuracy: accuracy(labels, probabilities),
		rocAuc: rocAuc(labels, probabilities),
		logLoss: logLoss(labels, probabilities),
	};
}

/** Mean and population standard deviation. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number } {
	const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
	const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
	return { mean, std: Math.sqrt(variance) };
}
