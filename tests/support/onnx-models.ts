import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { onnx as OnnxTypes } from "onnx-proto";
import onnxProto from "onnx-proto";

/**
 * Small ONNX models the "bring your own model" tests write for themselves, built with onnx-proto
 * (IR version 8, default-domain opset 13). Each builder comes with a spec: its inputs and outputs
 * as the Open Inference Protocol V2 metadata should describe them (V2 datatypes, -1 for every
 * dynamic dimension), so tests compare against these constants instead of repeating literals.
 */

// onnx-proto is CommonJS: its namespace arrives as the default export on every runtime.
const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

export const IR_VERSION = 8;
export const OPSET = 13;

/** The V2 tensor datatypes these models use (BYTES is ONNX's STRING). */
export type V2Datatype =
	| "BOOL"
	| "UINT8"
	| "UINT16"
	| "UINT32"
	| "UINT64"
	| "INT8"
	| "INT16"
	| "INT32"
	| "INT64"
	| "FP32"
	| "FP64"
	| "BYTES";

const ONNX_TYPE: Record<V2Datatype, number> = {
	BOOL: DataType.BOOL,
	UINT8: DataType.UINT8,
	UINT16: DataType.UINT16,
	UINT32: DataType.UINT32,
	UINT64: DataType.UINT64,
	INT8: DataType.INT8,
	INT16: DataType.INT16,
	INT32: DataType.INT32,
	INT64: DataType.INT64,
	FP32: DataType.FLOAT,
	FP64: DataType.DOUBLE,
	BYTES: DataType.STRING,
};

/** A tensor as V2 metadata describes it: -1 stands for any dynamic dimension. */
export interface TensorSpec {
	readonly name: string;
	readonly datatype: V2Datatype;
	readonly shape: readonly number[];
}

export interface ModelSpec {
	readonly inputs: readonly TensorSpec[];
	readonly outputs: readonly TensorSpec[];
}

/** An ONNX dimension: fixed (number), symbolic (its dim_param name) or unknown (neither). */
type Dim = number | string | null;

interface Declared {
	readonly name: string;
	readonly datatype: V2Datatype;
	readonly dims: readonly Dim[];
}

const declare = (name: string, datatype: V2Datatype, dims: readonly Dim[]): Declared => ({
	name,
	datatype,
	dims,
});

const toSpec = ({ name, datatype, dims }: Declared): TensorSpec => ({
	name,
	datatype,
	shape: dims.map((d) => (typeof d === "number" ? d : -1)),
});

function valueInfo({ name, datatype, dims }: Declared): OnnxTypes.IValueInfoProto {
	const dim = dims.map((d): OnnxTypes.TensorShapeProto.IDimension => {
		if (typeof d === "number") return { dimValue: d };
		return d === null ? {} : { dimParam: d };
	});
	return { name, type: { tensorType: { elemType: ONNX_TYPE[datatype], shape: { dim } } } };
}

function encodeModel(
	name: string,
	inputs: readonly Declared[],
	outputs: readonly Declared[],
	nodes: OnnxTypes.INodeProto[],
	initializer: OnnxTypes.ITensorProto[] = [],
): Uint8Array {
	const model: OnnxTypes.IModelProto = {
		irVersion: IR_VERSION,
		producerName: "titanic-runtime-bench tests",
		opsetImport: [{ domain: "", version: OPSET }],
		graph: {
			name,
			input: inputs.map(valueInfo),
			output: outputs.map(valueInfo),
			initializer,
			node: nodes,
		},
	};
	const error = onnx.ModelProto.verify(model);
	if (error !== null) throw new Error(`invalid ONNX model ${name}: ${error}`);
	return onnx.ModelProto.encode(model).finish();
}

const specOf = (inputs: readonly Declared[], outputs: readonly Declared[]): ModelSpec => ({
	inputs: inputs.map(toSpec),
	outputs: outputs.map(toSpec),
});

const identity = (input: string, output: string): OnnxTypes.INodeProto => ({
	opType: "Identity",
	name: `identity_${output}`,
	input: [input],
	output: [output],
});

/** Writes `bytes` to `dir/fileName` (creating `dir`) and returns the file's path. */
export function writeModel(dir: string, fileName: string, bytes: Uint8Array): string {
	mkdirSync(dir, { recursive: true });
	const path = join(dir, fileName);
	writeFileSync(path, bytes);
	return path;
}

// --- mixed: two inputs of different types, two outputs of different types and ranks ---

const MIXED_IN = [declare("count", "INT64", ["N", 3]), declare("weight", "FP64", ["N", 3])];
const MIXED_OUT = [declare("scaled", "FP64", ["N", 3]), declare("total", "INT64", ["N"])];
export const MIXED_SPEC: ModelSpec = specOf(MIXED_IN, MIXED_OUT);

/** scaled = Cast<double>(count) * weight; total = ReduceSum(count, axes=[1], keepdims=0). */
export function mixedModel(): Uint8Array {
	return encodeModel(
		"mixed",
		MIXED_IN,
		MIXED_OUT,
		[
			{
				opType: "Cast",
				name: "count_to_double",
				input: ["count"],
				output: ["count_double"],
				attribute: [{ name: "to", type: AttributeType.INT, i: DataType.DOUBLE }],
			},
			{ opType: "Mul", name: "scale", input: ["count_double", "weight"], output: ["scaled"] },
			{
				// Opset 13's ReduceSum takes its axes as a second input, not an attribute.
				opType: "ReduceSum",
				name: "row_total",
				input: ["count", "sum_axes"],
				output: ["total"],
				attribute: [{ name: "keepdims", type: AttributeType.INT, i: 0 }],
			},
		],
		[{ name: "sum_axes", dims: [1], dataType: DataType.INT64, int64Data: [1] }],
	);
}

/**
 * Example rows for the mixed model. The counts go beyond int32 and below zero, so an int64 path
 * that narrows shows; the weights (0.1, 1/3, ...) are not float32 values, so a path through
 * float32 is off by up to ~5e-7 on these rows, far beyond the 1e-9 the tests allow.
 */
export const MIXED_EXAMPLE = {
	count: [
		[1, 2, 3],
		[-4, 5_000_000_000, 6],
	],
	weight: [
		[0.1, 1 / 3, -2.5],
		[0.7, 1e-9, Math.PI],
	],
} as const;

/** What the mixed model computes, in float64 as onnxruntime does. */
export function mixedExpected(
	count: readonly (readonly number[])[],
	weight: readonly (readonly number[])[],
): { scaled: number[][]; total: number[] } {
	return {
		scaled: count.map((row, i) => row.map((c, j) => c * (weight[i]?.[j] ?? Number.NaN))),
		total: count.map((row) => row.reduce((sum, c) => sum + c, 0)),
	};
}

// --- the Open Inference Protocol spec's example: input0 UINT32 [2, 2], input1 BOOL [3] ---

const SPEC_EXAMPLE_IN = [declare("input0", "UINT32", [2, 2]), declare("input1", "BOOL", [3])];
const SPEC_EXAMPLE_OUT = [declare("output0", "FP32", [3, 2]), declare("output1", "UINT32", [2, 2])];
export const SPEC_EXAMPLE_SPEC: ModelSpec = specOf(SPEC_EXAMPLE_IN, SPEC_EXAMPLE_OUT);

/** output0's value, flattened row-major, as the spec's example response lists it. */
export const SPEC_EXAMPLE_OUTPUT0 = [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] as const;

/**
 * The spec's example request, except that input1 carries 3 values for its shape [3]: the spec
 * lists `"data": [true]`, which does not fill that shape.
 */
export const SPEC_EXAMPLE_REQUEST = {
	id: "42",
	inputs: [
		{ name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
		{ name: "input1", shape: [3], datatype: "BOOL", data: [true, false, true] },
	],
	outputs: [{ name: "output0" }],
} as const;

/**
 * output0 = the constant above (an initializer through Identity, whatever the inputs);
 * output1 = Identity(input0). input1 feeds nothing: it is still a graph input that must be fed.
 */
export function specExampleModel(): Uint8Array {
	return encodeModel(
		"oip_spec_example",
		SPEC_EXAMPLE_IN,
		SPEC_EXAMPLE_OUT,
		[identity("output0_value", "output0"), identity("input0", "output1")],
		[
			{
				name: "output0_value",
				dims: [3, 2],
				dataType: DataType.FLOAT,
				floatData: [...SPEC_EXAMPLE_OUTPUT0],
			},
		],
	);
}

// --- identity: one input and one output per datatype ---

/** Every V2 datatype the identity model covers; onnxruntime's CPU Identity accepts them all. */
export const IDENTITY_DATATYPES = [
	"BOOL",
	"UINT8",
	"UINT16",
	"UINT32",
	"UINT64",
	"INT8",
	"INT16",
	"INT32",
	"INT64",
	"FP32",
	"FP64",
] as const satisfies readonly V2Datatype[];

export type IdentityDatatype = (typeof IDENTITY_DATATYPES)[number];

/** in_<TYPE> [n_<type>] -> Identity -> out_<TYPE>: each its own symbolic dim, so independent. */
function identityDeclared(types: readonly V2Datatype[]) {
	const dim = (t: V2Datatype) => [`n_${t.toLowerCase()}`];
	return {
		inputs: types.map((t) => declare(`in_${t}`, t, dim(t))),
		outputs: types.map((t) => declare(`out_${t}`, t, dim(t))),
	};
}

export function identitySpec(types: readonly V2Datatype[] = IDENTITY_DATATYPES): ModelSpec {
	const { inputs, outputs } = identityDeclared(types);
	return specOf(inputs, outputs);
}

export function identityModel(types: readonly V2Datatype[] = IDENTITY_DATATYPES): Uint8Array {
	const { inputs, outputs } = identityDeclared(types);
	const nodes = types.map((t) => identity(`in_${t}`, `out_${t}`));
	return encodeModel("identity", inputs, outputs, nodes);
}

// --- an unknown dimension: neither dim_value nor dim_param ---

const UNKNOWN_DIM_IN = [declare("x", "FP32", [null, 4])];
const UNKNOWN_DIM_OUT = [declare("y", "FP32", [null, 4])];
export const UNKNOWN_DIM_SPEC: ModelSpec = specOf(UNKNOWN_DIM_IN, UNKNOWN_DIM_OUT);

export function unknownDimModel(): Uint8Array {
	return encodeModel("unknown_dim", UNKNOWN_DIM_IN, UNKNOWN_DIM_OUT, [identity("x", "y")]);
}

// --- a STRING input: loads in onnxruntime, but the server refuses it at startup ---

const STRING_IN = [declare("text", "BYTES", ["N"])];
const STRING_OUT = [declare("echo", "BYTES", ["N"])];
export const STRING_INPUT_SPEC: ModelSpec = specOf(STRING_IN, STRING_OUT);

export function stringInputModel(): Uint8Array {
	return encodeModel("string_input", STRING_IN, STRING_OUT, [identity("text", "echo")]);
}

/** Plain text: no ONNX runtime can load it as a model. */
export function notOnnxBytes(): Uint8Array {
	return new TextEncoder().encode("This is not an ONNX model, just a text file.\n");
}
