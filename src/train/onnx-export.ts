import type { onnx as OnnxTypes } from "onnx-proto";
import onnxProto from "onnx-proto";
import type { MlpParams } from "../inference/mlp.ts";
import type { TreeEnsembleParams } from "../inference/trees.ts";

// onnx-proto is CommonJS: its namespace arrives as the default export on every runtime.
const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

export const IR_VERSION = 8;
export const DEFAULT_OPSET = 13;
export const ML_OPSET = 3;
const PRODUCER = "titanic-runtime-bench train";
/** The dynamic batch dimension's name, as the manifest spells it. */
export const BATCH_DIM = "N";

type Dim = typeof BATCH_DIM | number;

function tensorInfo(
	name: string,
	elemType: number,
	shape: readonly Dim[],
): OnnxTypes.IValueInfoProto {
	return {
		name,
		type: {
			tensorType: {
				elemType,
				shape: {
					dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
				},
			},
		},
	};
}

function floatTensor(
	name: string,
	dims: number[],
	values: readonly number[],
): OnnxTypes.ITensorProto {
	return { name, dims, dataType: DataType.FLOAT, floatData: [...values] };
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

const attr = {
	int: (name: string, i: number): OnnxTypes.IAttributeProto => ({
		name,
		type: AttributeType.INT,
		i,
	}),
	ints: (name: string, ints: number[]): OnnxTypes.IAttributeProto => ({
		name,
		type: AttributeType.INTS,
		ints,
	}),
	floats: (name: string, floats: number[]): OnnxTypes.IAttributeProto => ({
		name,
		type: AttributeType.FLOATS,
		floats,
	}),
	string: (name: string, s: string): OnnxTypes.IAttributeProto => ({
		name,
		type: AttributeType.STRING,
		s: text(s),
	}),
	strings: (name: string, strings: string[]): OnnxTypes.IAttributeProto => ({
		name,
		type: AttributeType.STRINGS,
		strings: strings.map(text),
	}),
};

function encodeModel(graph: OnnxTypes.IGraphProto): Uint8Array {
	const model: OnnxTypes.IModelProto = {
		irVersion: IR_VERSION,
		producerName: PRODUCER,
		opsetImport: [
			{ domain: "", version: DEFAULT_OPSET },
			{ domain: "ai.onnx.ml", version: ML_OPSET },
		],
		graph,
	};
	const error = onnx.ModelProto.verify(model);
	if (error !== null) throw new Error(`invalid ONNX model: ${error}`);
	return onnx.ModelProto.encode(model).finish();
}

export const MLP_INPUT = "x";
export const MLP_OUTPUT = "probability";

/** x [N, inputs] -> Gemm -> Relu -> Gemm -> Sigmoid -> probability [N, 1]. */
export function mlpToOnnx(params: MlpParams): Uint8Array {
	const { inputSize, hiddenSize } = params;
	return encodeModel({
		name: "titanic_mlp",
		input: [tensorInfo(MLP_INPUT, DataType.FLOAT, [BATCH_DIM, inputSize])],
		output: [tensorInfo(MLP_OUTPUT, DataType.FLOAT, [BATCH_DIM, 1])],
		initializer: [
			floatTensor("hidden_weight", [hiddenSize, inputSize], params.hiddenWeights),
			floatTensor("hidden_bias", [hiddenSize], params.hiddenBias),
			floatTensor("output_weight", [1, hiddenSize], params.outputWeights),
			floatTensor("output_bias", [1], [params.outputBias]),
		],
		node: [
			{
				opType: "Gemm",
				name: "hidden_linear",
				input: [MLP_INPUT, "hidden_weight", "hidden_bias"],
				output: ["hidden_pre"],
				// The weights are stored [out, in] like torch's Linear, hence transB.
				attribute: [attr.int("transB", 1)],
			},
			{ opType: "Relu", name: "hidden_relu", input: ["hidden_pre"], output: ["hidden"] },
			{
				opType: "Gemm",
				name: "output_linear",
				input: ["hidden", "output_weight", "output_bias"],
				output: ["logit"],
				attribute: [attr.int("transB", 1)],
			},
			{ opType: "Sigmoid", name: "output_sigmoid", input: ["logit"], output: [MLP_OUTPUT] },
		],
	});
}

export const GBDT_INPUT = "x";
export const GBDT_LABEL = "label";
export const GBDT_PROBABILITIES = "probabilities";

/**
 * An ai.onnx.ml TreeEnsembleClassifier laid out as onnxmltools lays out a binary LightGBM model
 * with zipmap off: every leaf weighs class 0's score only, classlabels [0, 1], LOGISTIC post
 * transform. onnxruntime then reports [1 - p, p] with p = sigmoid(base + sum of leaves).
 * base_values holds ONE value: onnxruntime adds a single base value to that one score, whereas
 * two values ([0, base]) switch it to a different binary layout and break the probabilities
 * (checked against onnxruntime-node 1.30; tests/inference/executors.test.ts pins it).
 */
export function gbdtToOnnx(params: TreeEnsembleParams): Uint8Array {
	const nodes = {
		treeIds: [] as number[],
		nodeIds: [] as number[],
		featureIds: [] as number[],
		modes: [] as string[],
		values: [] as number[],
		trueIds: [] as number[],
		falseIds: [] as number[],
	};
	const leaves = { treeIds: [] as number[], nodeIds: [] as number[], weights: [] as number[] };
	params.trees.forEach((tree, t) => {
		tree.feature.forEach((feature, node) => {
			const isLeaf = tree.left[node] === -1;
			nodes.treeIds.push(t);
			nodes.nodeIds.push(node);
			nodes.featureIds.push(isLeaf ? 0 : feature);
			nodes.modes.push(isLeaf ? "LEAF" : params.comparison);
			nodes.values.push(isLeaf ? 0 : (tree.threshold[node] ?? 0));
			nodes.trueIds.push(isLeaf ? 0 : (tree.left[node] ?? 0));
			nodes.falseIds.push(isLeaf ? 0 : (tree.right[node] ?? 0));
			if (isLeaf) {
				leaves.treeIds.push(t);
				leaves.nodeIds.push(node);
				leaves.weights.push(tree.value[node] ?? 0);
			}
		});
	});
	return encodeModel({
		name: "titanic_gbdt",
		input: [tensorInfo(GBDT_INPUT, DataType.FLOAT, [BATCH_DIM, params.featureCount])],
		output: [
			tensorInfo(GBDT_LABEL, DataType.INT64, [BATCH_DIM]),
			tensorInfo(GBDT_PROBABILITIES, DataType.FLOAT, [BATCH_DIM, 2]),
		],
		node: [
			{
				opType: "TreeEnsembleClassifier",
				domain: "ai.onnx.ml",
				name: "gbdt",
				input: [GBDT_INPUT],
				output: [GBDT_LABEL, GBDT_PROBABILITIES],
				attribute: [
					attr.ints("nodes_treeids", nodes.treeIds),
					attr.ints("nodes_nodeids", nodes.nodeIds),
					attr.ints("nodes_featureids", nodes.featureIds),
					attr.strings("nodes_modes", nodes.modes),
					attr.floats("nodes_values", nodes.values),
					attr.ints("nodes_truenodeids", nodes.trueIds),
					attr.ints("nodes_falsenodeids", nodes.falseIds),
					attr.ints("class_treeids", leaves.treeIds),
					attr.ints("class_nodeids", leaves.nodeIds),
					attr.ints(
						"class_ids",
						leaves.treeIds.map(() => 0),
					),
					attr.floats("class_weights", leaves.weights),
					attr.ints("classlabels_int64s", [0, 1]),
					attr.string("post_transform", "LOGISTIC"),
					attr.floats("base_values", [params.baseScore]),
				],
			},
		],
	});
}
