import { mulberry32, shuffleInPlace } from "./random.ts";

/** Row indices into the data set, each list in ascending order. */
export interface Split {
	train: number[];
	test: number[];
}

/** Row indices per label, each list shuffled with the seeded generator. */
function shuffledByLabel(labels: readonly number[], seed: number): number[][] {
	const random = mulberry32(seed);
	const groups = new Map<number, number[]>();
	labels.forEach((label, index) => {
		const group = groups.get(label) ?? [];
		group.push(index);
		groups.set(label, group);
	});
	// Visit labels in a fixed order so the result never depends on the data's row order.
	return [...groups.keys()]
		.sort((a, b) => a - b)
		.map((label) => shuffleInPlace(groups.get(label) ?? [], random));
}

const ascending = (a: number, b: number): number => a - b;

/**
 * Holds out `testFraction` of each label's rows, so train and test keep the label balance of the
 * whole data set.
 */
export function stratifiedSplit(
	labels: readonly number[],
	testFraction: number,
	seed: number,
): Split {
	const train: number[] = [];
	const test: number[] = [];
	for (const group of shuffledByLabel(labels, seed)) {
		const testCount = Math.round(group.length * testFraction);
		test.push(...group.slice(0, testCount));
		train.push(...group.slice(testCount));
	}
	return { train: train.sort(ascending), test: test.sort(ascending) };
}

/**
 * k stratified folds: each label's shuffled rows are dealt round-robin over the folds, so every
 * fold holds close to 1/k of each label. Fold i tests on its own rows and trains on the rest.
 */
export function stratifiedKFold(labels: readonly number[], k: number, seed: number): Split[] {
	const folds: number[][] = Array.from({ length: k }, () => []);
	let next = 0;
	for (const group of shuffledByLabel(labels, seed)) {
		for (const index of group) {
			folds[next % k]?.push(index);
			next++;
		}
	}
	return folds.map((test, fold) => ({
		train: folds
			.filter((_, other) => other !== fold)
			.flat()
			.sort(ascending),
		test: [...test].sort(ascending),
	}));
}
