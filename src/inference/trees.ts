import { z } from "zod";
import type { SyncExecutor } from "./executor.ts";

const NodeIndex = z.number().int().min(-1);

/**
 * One tree as parallel node arrays; node 0 is the root. A node whose `left` is -1 is a leaf with
 * `value`; any other node sends a row to `left` when feature <= threshold (ONNX BRANCH_LEQ,
 * compared in float32) and to `right` otherwise. Children always come after their parent.
 */
export const Tree = z
	.object({
		feature: z.array(NodeIndex),
		threshold: z.array(z.number()),
		left: z.array(NodeIndex),
		right: z.array(NodeIndex),
		value: z.array(z.number()),
	})
	.refine(
		(t) =>
			t.feature.length > 0 &&
			[t.threshold, t.left, t.right, t.value].every((column) => column.length === t.feature.length),
		{ message: "every node array must have the same, non-zero length" },
	)
	.refine(
		(t) =>
			t.left.every((left, node) => {
				const right = t.right[node] ?? -1;
				if (left === -1) return right === -1;
				const feature = t.feature[node] ?? -1;
				const size = t.feature.length;
				return feature >= 0 && left > node && right > node && left < size && right < size;
			}),
		{ message: "a split node needs a feature and two children after it; a leaf has none" },
	);
export type Tree = z.infer<typeof Tree>;

/**
 * models/gbdt.json: the trees of gbdt.onnx with the exact float32 thresholds and leaf values
 * stored there. probability = sigmoid(baseScore + sum of the leaf each tree sends the row to).
 */
export const TreeEnsembleParams = z.object({
	format: z.literal("tree-ensemble"),
	featureCount: z.number().int().positive(),
	comparison: z.literal("BRANCH_LEQ"),
	postTransform: z.literal("logistic"),
	/** The initial log-odds, the trees' starting point. */
	baseScore: z.number(),
	trees: z.array(Tree).min(1),
});
export type TreeEnsembleParams = z.infer<typeof TreeEnsembleParams>;

/**
 * Walks every tree for every row. All trees are flattened into one set of typed arrays (feature,
 * threshold, left, right, leaf value) with global node indices, so the walk touches no objects.
 */
export function createTreeEnsembleExecutor(params: TreeEnsembleParams): SyncExecutor {
	const { featureCount, baseScore, trees } = TreeEnsembleParams.parse(params);
	const nodeCount = trees.reduce((count, tree) => count + tree.feature.length, 0);
	const roots = new Int32Array(trees.length);
	const feature = new Int32Array(nodeCount);
	// Float32Array keeps the thresholds float32, so the comparison below is ORT's float32 one.
	const threshold = new Float32Array(nodeCount);
	const left = new Int32Array(nodeCount);
	const right = new Int32Array(nodeCount);
	const value = new Float64Array(nodeCount);
	let offset = 0;
	trees.forEach((tree, t) => {
		roots[t] = offset;
		for (let node = 0; node < tree.feature.length; node++) {
			const isLeaf = tree.left[node] === -1;
			const at = offset + node;
			feature[at] = isLeaf ? -1 : tree.feature[node];
			threshold[at] = tree.threshold[node];
			left[at] = isLeaf ? -1 : offset + tree.left[node];
			right[at] = isLeaf ? -1 : offset + tree.right[node];
			value[at] = tree.value[node];
		}
		offset += tree.feature.length;
	});
	if (feature.some((f) => f >= featureCount)) {
		throw new RangeError(`a tree splits on a feature index >= featureCount ${featureCount}`);
	}
	const treeCount = trees.length;
	return {
		backend: "typescript",
		predict(input: Float32Array, rows: number, into?: Float32Array): Float32Array {
			if (input.length < rows * featureCount) {
				throw new RangeError(
					`expected ${rows * featureCount} inputs for ${rows} rows, got ${input.length}`,
				);
			}
			const out = into?.length === rows ? into : new Float32Array(rows);
			for (let row = 0; row < rows; row++) {
				const x = row * featureCount;
				let score = baseScore;
				for (let t = 0; t < treeCount; t++) {
					let node = roots[t];
					let f = feature[node];
					while (f >= 0) {
						node = input[x + f] <= threshold[node] ? left[node] : right[node];
						f = feature[node];
					}
					score += value[node];
				}
				out[row] = 1 / (1 + Math.exp(-score));
			}
			return out;
		},
	};
}
