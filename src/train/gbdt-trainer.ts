import type { Tree, TreeEnsembleParams } from "../inference/trees.ts";
import { binOf, type FeatureBins, fitFeatureBins } from "./binning.ts";

export interface GbdtOptions {
	rounds: number;
	learningRate: number;
	/** Leaf-wise growth stops a tree at this many leaves. */
	numLeaves: number;
	minDataInLeaf: number;
	minSumHessianInLeaf: number;
	/** L2 penalty on leaf values (LightGBM's lambda_l2). */
	lambdaL2: number;
	maxBin: number;
}

/** LightGBM's defaults, except a smaller leaf limit for ~600 rows. */
export const DEFAULT_GBDT_OPTIONS: GbdtOptions = {
	rounds: 100,
	learningRate: 0.1,
	numLeaves: 8,
	minDataInLeaf: 20,
	minSumHessianInLeaf: 1e-3,
	lambdaL2: 0,
	maxBin: 255,
};

interface SplitCandidate {
	gain: number;
	feature: number;
	bin: number;
}

interface GrowingLeaf {
	node: number;
	rows: number[];
	sumGradient: number;
	sumHessian: number;
	best: SplitCandidate | null;
}

interface MutableTree {
	feature: number[];
	threshold: number[];
	left: number[];
	right: number[];
	value: number[];
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * Gradient-boosted trees for binary log loss: each round fits a tree to the gradients and
 * hessians of the current log-odds, grown leaf-wise (always splitting the leaf with the largest
 * gain) over histogram bins. Leaf values and the base score are rounded to float32 as they are
 * made, so the scores the next round sees are the scores the exported model computes.
 */
export function trainGbdt(
	x: Float32Array,
	labels: readonly number[],
	featureCount: number,
	options: GbdtOptions = DEFAULT_GBDT_OPTIONS,
): TreeEnsembleParams {
	const rows = labels.length;
	const bins: FeatureBins[] = [];
	const binned: Uint16Array[] = [];
	for (let f = 0; f < featureCount; f++) {
		const column = Float32Array.from({ length: rows }, (_, r) => x[r * featureCount + f] ?? 0);
		const featureBins = fitFeatureBins(column, options.maxBin);
		bins.push(featureBins);
		binned.push(Uint16Array.from(column, (v) => binOf(v, featureBins)));
	}

	const positives = labels.reduce((sum, y) => sum + y, 0);
	const prior = Math.min(Math.max(positives / rows, 1e-6), 1 - 1e-6);
	const baseScore = Math.fround(Math.log(prior / (1 - prior)));
	const scores = new Float64Array(rows).fill(baseScore);
	const gradient = new Float64Array(rows);
	const hessian = new Float64Array(rows);
	const trees: Tree[] = [];

	for (let round = 0; round < options.rounds; round++) {
		for (let r = 0; r < rows; r++) {
			const p = sigmoid(scores[r] ?? 0);
			gradient[r] = p - (labels[r] ?? 0);
			hessian[r] = p * (1 - p);
		}
		const tree = growTree(binned, bins, gradient, hessian, options, (leafRows, value) => {
			for (const r of leafRows) scores[r] = (scores[r] ?? 0) + value;
		});
		trees.push(tree);
	}
	return {
		format: "tree-ensemble",
		featureCount,
		comparison: "BRANCH_LEQ",
		postTransform: "logistic",
		baseScore,
		trees,
	};
}

function growTree(
	binned: readonly Uint16Array[],
	bins: readonly FeatureBins[],
	gradient: Float64Array,
	hessian: Float64Array,
	options: GbdtOptions,
	onLeaf: (rows: readonly number[], value: number) => void,
): Tree {
	const tree: MutableTree = { feature: [], threshold: [], left: [], right: [], value: [] };
	const addLeaf = (): number => {
		tree.feature.push(-1);
		tree.threshold.push(0);
		tree.left.push(-1);
		tree.right.push(-1);
		tree.value.push(0);
		return tree.feature.length - 1;
	};
	const makeLeaf = (node: number, rows: number[]): GrowingLeaf => {
		let sumGradient = 0;
		let sumHessian = 0;
		for (const r of rows) {
			sumGradient += gradient[r] ?? 0;
			sumHessian += hessian[r] ?? 0;
		}
		const leaf: GrowingLeaf = { node, rows, sumGradient, sumHessian, best: null };
		leaf.best = bestSplit(leaf, binned, bins, gradient, hessian, options);
		return leaf;
	};

	const all = Array.from({ length: gradient.length }, (_, r) => r);
	const leaves: GrowingLeaf[] = [makeLeaf(addLeaf(), all)];
	while (leaves.length < options.numLeaves) {
		// The leaf with the largest gain; ties go to the earliest leaf, keeping growth deterministic.
		let chosen = -1;
		for (let i = 0; i < leaves.length; i++) {
			const gain = leaves[i]?.best?.gain ?? 0;
			if (gain > 0 && (chosen < 0 || gain > (leaves[chosen]?.best?.gain ?? 0))) chosen = i;
		}
		const leaf = leaves[chosen];
		const split = leaf?.best;
		if (leaf === undefined || split === undefined || split === null) break;
		const column = binned[split.feature] as Uint16Array;
		const leftRows = leaf.rows.filter((r) => (column[r] ?? 0) <= split.bin);
		const rightRows = leaf.rows.filter((r) => (column[r] ?? 0) > split.bin);
		const node = leaf.node;
		tree.feature[node] = split.feature;
		tree.threshold[node] = bins[split.feature]?.thresholds[split.bin] ?? 0;
		tree.left[node] = addLeaf();
		tree.right[node] = addLeaf();
		leaves.splice(
			chosen,
			1,
			makeLeaf(tree.left[node] ?? -1, leftRows),
			makeLeaf(tree.right[node] ?? -1, rightRows),
		);
	}
	for (const leaf of leaves) {
		// Newton step on the leaf's rows, shrunk by the learning rate.
		const raw = -leaf.sumGradient / (leaf.sumHessian + options.lambdaL2);
		const value = Math.fround(options.learningRate * raw);
		tree.value[leaf.node] = value;
		onLeaf(leaf.rows, value);
	}
	return tree;
}

/** The best histogram split of one leaf, or null when no split respects the leaf constraints. */
function bestSplit(
	leaf: GrowingLeaf,
	binned: readonly Uint16Array[],
	bins: readonly FeatureBins[],
	gradient: Float64Array,
	hessian: Float64Array,
	options: GbdtOptions,
): SplitCandidate | null {
	const { minDataInLeaf, minSumHessianInLeaf, lambdaL2 } = options;
	const total = leaf.rows.length;
	if (total < 2 * minDataInLeaf) return null;
	const score = (g: number, h: number): number => (g * g) / (h + lambdaL2);
	const parentScore = score(leaf.sumGradient, leaf.sumHessian);
	let best: SplitCandidate | null = null;
	for (let f = 0; f < binned.length; f++) {
		const binCount = (bins[f]?.thresholds.length ?? 0) + 1;
		if (binCount < 2) continue;
		const column = binned[f] as Uint16Array;
		const sumG = new Float64Array(binCount);
		const sumH = new Float64Array(binCount);
		const count = new Int32Array(binCount);
		for (const r of leaf.rows) {
			const b = column[r] ?? 0;
			sumG[b] = (sumG[b] ?? 0) + (gradient[r] ?? 0);
			sumH[b] = (sumH[b] ?? 0) + (hessian[r] ?? 0);
			count[b] = (count[b] ?? 0) + 1;
		}
		let leftG = 0;
		let leftH = 0;
		let leftCount = 0;
		for (let b = 0; b + 1 < binCount; b++) {
			leftG += sumG[b] ?? 0;
			leftH += sumH[b] ?? 0;
			leftCount += count[b] ?? 0;
			const rightCount = total - leftCount;
			if (leftCount < minDataInLeaf) continue;
			if (rightCount < minDataInLeaf) break;
			const rightH = leaf.sumHessian - leftH;
			if (leftH < minSumHessianInLeaf || rightH < minSumHessianInLeaf) continue;
			const gain = score(leftG, leftH) + score(leaf.sumGradient - leftG, rightH) - parentScore;
			if (best === null || gain > best.gain) best = { gain, feature: f, bin: b };
		}
	}
	return best;
}
