/**
 * Tensors as the Open Inference Protocol names them, and as onnxruntime holds them: the element
 * types both sides support, a tensor's description, and the checks that turn a client's JSON
 * data into a typed array onnxruntime can take without failing. No HTTP here: a bad tensor is a
 * TensorError whose message the caller shows as is.
 */

import type { TensorData as TypedData } from "./ort-native.ts";

/** A tensor that does not fit its model: the message names the tensor and what is wrong. */
export class TensorError extends Error {}

interface ElementType {
	/** onnxruntime-node's name for it. */
	readonly ort: string;
	/** Triton's model config name. */
	readonly triton: string;
	/** Whether a JSON value is one of these elements. */
	fits(value: unknown): boolean;
	/** What the value must be, for the error message. */
	readonly must: string;
	allocate(length: number): TypedData;
	/** Stores a value that fits. */
	store(data: TypedData, index: number, value: unknown): void;
}

const isNumber = (v: unknown): v is number => typeof v === "number";
const wholeIn = (min: number, max: number) => (v: unknown) =>
	Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const storeNumber = (data: TypedData, i: number, v: unknown) => {
	(data as Float64Array)[i] = v as number;
};
const storeBigInt = (data: TypedData, i: number, v: unknown) => {
	(data as BigInt64Array)[i] = BigInt(v as number);
};

function integer(
	ort: string,
	bits: number,
	signed: boolean,
	allocate: (n: number) => TypedData,
): ElementType {
	// 64-bit integers travel as JSON numbers: only the exactly representable ones are accepted.
	const max = bits === 64 ? Number.MAX_SAFE_INTEGER : 2 ** (signed ? bits - 1 : bits) - 1;
	const min = signed ? (bits === 64 ? Number.MIN_SAFE_INTEGER : -(2 ** (bits - 1))) : 0;
	const name = `${signed ? "INT" : "UINT"}${bits}`;
	return {
		ort,
		triton: `TYPE_${name}`,
		fits: wholeIn(min, max),
		must: `a whole number ${min} to ${max}`,
		allocate,
		store: bits === 64 ? storeBigInt : storeNumber,
	};
}

/** Every element type served, by its protocol name. FP16 and BYTES are not (README says why). */
export const DATATYPES = {
	BOOL: {
		ort: "bool",
		triton: "TYPE_BOOL",
		fits: (v: unknown) => typeof v === "boolean",
		must: "true or false",
		allocate: (n: number) => new Uint8Array(n),
		store: (data: TypedData, i: number, v: unknown) => {
			(data as Uint8Array)[i] = v ? 1 : 0;
		},
	},
	UINT8: integer("uint8", 8, false, (n) => new Uint8Array(n)),
	UINT16: integer("uint16", 16, false, (n) => new Uint16Array(n)),
	UINT32: integer("uint32", 32, false, (n) => new Uint32Array(n)),
	UINT64: integer("uint64", 64, false, (n) => new BigUint64Array(n)),
	INT8: integer("int8", 8, true, (n) => new Int8Array(n)),
	INT16: integer("int16", 16, true, (n) => new Int16Array(n)),
	INT32: integer("int32", 32, true, (n) => new Int32Array(n)),
	INT64: integer("int64", 64, true, (n) => new BigInt64Array(n)),
	FP32: {
		ort: "float32",
		triton: "TYPE_FP32",
		// JSON has no NaN or Infinity; a finite number beyond float32's range would become one.
		fits: (v: unknown) => isNumber(v) && Math.abs(v) <= 3.4028234663852886e38,
		must: "a number within float32's range",
		allocate: (n: number) => new Float32Array(n),
		store: storeNumber,
	},
	FP64: {
		ort: "float64",
		triton: "TYPE_FP64",
		// JSON.parse reads 1e309 as Infinity, which no JSON answer could carry back.
		fits: (v: unknown) => Number.isFinite(v),
		must: "a finite number",
		allocate: (n: number) => new Float64Array(n),
		store: storeNumber,
	},
} as const satisfies Record<string, ElementType>;

export type Datatype = keyof typeof DATATYPES;
export const DATATYPE_NAMES = Object.keys(DATATYPES) as Datatype[];

const BY_ORT_TYPE = new Map<string, Datatype>(
	DATATYPE_NAMES.map((name) => [DATATYPES[name].ort, name]),
);

/** The protocol datatype of an onnxruntime element type, or undefined when it is not served. */
export const datatypeOfOrt = (ortType: string | undefined): Datatype | undefined =>
	ortType === undefined ? undefined : BY_ORT_TYPE.get(ortType);

export const isDatatype = (name: string): name is Datatype => Object.hasOwn(DATATYPES, name);

/** A model input or output as the protocol describes it: -1 marks a dimension of any size. */
export interface TensorSpec {
	readonly name: string;
	readonly datatype: Datatype;
	readonly shape: readonly number[];
}

/** A tensor's values, flat and row-major, in the typed array onnxruntime takes for its type. */
export interface Tensor {
	readonly name: string;
	readonly datatype: Datatype;
	readonly shape: readonly number[];
	readonly data: TypedData;
}

/** An input as a client sends it, after its JSON envelope was checked. */
export interface TensorRequest {
	readonly name: string;
	readonly datatype: string;
	readonly shape: readonly number[];
	readonly data: unknown;
}

const showShape = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * The element count of `shape`, or the error that says why the shape is refused. `already` is
 * what the request's other inputs hold: the limit is on the whole request.
 */
export function checkShape(
	spec: TensorSpec,
	shape: readonly number[],
	maxElements: number,
	already = 0,
): number {
	const where = `input "${spec.name}"`;
	if (shape.length !== spec.shape.length) {
		throw new TensorError(
			`${where}: shape ${showShape(shape)} has ${shape.length} dimensions, the model takes ${spec.shape.length} (${showShape(spec.shape)})`,
		);
	}
	let count = 1;
	for (let axis = 0; axis < shape.length; axis++) {
		const size = shape[axis] as number;
		const expected = spec.shape[axis] as number;
		if (!Number.isInteger(size) || size < 1) {
			throw new TensorError(`${where}: dimension ${axis} is ${size}, not a whole number >= 1`);
		}
		if (expected !== -1 && size !== expected) {
			throw new TensorError(
				`${where}: dimension ${axis} is ${size}, the model takes ${expected} (${showShape(spec.shape)})`,
			);
		}
		count *= size;
		if (already + count > maxElements) {
			const others = already > 0 ? ` with the ${already} of the other inputs` : "";
			throw new TensorError(
				`${where}: shape ${showShape(shape)}${others} exceeds the limit of ${maxElements} elements per request`,
			);
		}
	}
	return count;
}

/**
 * Copies `data`, flat or nested row-major, into `out` and returns how many elements it holds:
 * nested data must nest exactly as the shape does (a row of the wrong length is refused, not
 * reflowed). Iterative, so deep nesting cannot overflow the stack.
 */
function fill(request: TensorRequest, type: ElementType, out: TypedData): number {
	const where = `input "${request.name}"`;
	if (!Array.isArray(request.data)) throw new TensorError(`${where}: data must be an array`);
	const nested = request.data.some(Array.isArray);
	const rank = request.shape.length;
	const stack = [{ values: request.data as readonly unknown[], axis: 0, next: 0 }];
	let count = 0;
	while (stack.length > 0) {
		const frame = stack[stack.length - 1] as (typeof stack)[number];
		if (frame.next === 0 && nested && frame.values.length !== request.shape[frame.axis]) {
			throw new TensorError(
				`${where}: nested data has ${frame.values.length} elements on dimension ${frame.axis}, the shape says ${request.shape[frame.axis]}`,
			);
		}
		if (frame.next === frame.values.length) {
			stack.pop();
			continue;
		}
		const value = frame.values[frame.next++];
		if (Array.isArray(value)) {
			if (!nested || frame.axis + 1 >= rank) {
				throw new TensorError(`${where}: data nests deeper than its shape`);
			}
			stack.push({ values: value, axis: frame.axis + 1, next: 0 });
			continue;
		}
		if (nested && frame.axis !== rank - 1) {
			throw new TensorError(`${where}: nested data has a value where the shape needs an array`);
		}
		if (!type.fits(value)) {
			throw new TensorError(
				`${where}: element ${count} is ${JSON.stringify(value) ?? String(value)}, not ${request.datatype} (${type.must})`,
			);
		}
		if (count < out.length) type.store(out, count, value);
		count++;
	}
	return count;
}

/**
 * The client's input checked against the model's: datatype, rank, fixed dimensions, element
 * count, and every value of its type. What comes back is safe to hand to onnxruntime.
 */
export function decodeTensor(
	spec: TensorSpec,
	request: TensorRequest,
	maxElements: number,
	already = 0,
): Tensor {
	if (request.datatype !== spec.datatype) {
		throw new TensorError(
			`input "${spec.name}": datatype ${request.datatype} does not match the model's ${spec.datatype}`,
		);
	}
	const count = checkShape(spec, request.shape, maxElements, already);
	const type: ElementType = DATATYPES[spec.datatype];
	const data = type.allocate(count);
	const given = fill(request, type, data);
	if (given !== count) {
		throw new TensorError(
			`input "${spec.name}": data has ${given} elements, shape ${showShape(request.shape)} needs ${count}`,
		);
	}
	return { name: spec.name, datatype: spec.datatype, shape: request.shape, data };
}

/**
 * An output's values as JSON numbers, or booleans. A value JSON cannot carry exactly (NaN or
 * Infinity, a 64-bit integer beyond 2^53) is a TensorError rather than a silent null or rounding.
 */
export function jsonData(tensor: Tensor): number[] | boolean[] {
	if (tensor.datatype === "BOOL") return Array.from(tensor.data as Uint8Array, (v) => v !== 0);
	const wide = tensor.data instanceof BigInt64Array || tensor.data instanceof BigUint64Array;
	const values = wide
		? Array.from(tensor.data as BigInt64Array, Number)
		: Array.from(tensor.data as Float64Array);
	const exact = wide ? Number.isSafeInteger : Number.isFinite;
	const bad = values.findIndex((v) => !exact(v));
	if (bad !== -1) {
		const value = String((tensor.data as BigInt64Array | Float64Array)[bad]);
		const why = wide
			? "beyond the integers a JSON number carries exactly (2^53)"
			: "which JSON cannot carry";
		throw new TensorError(`output "${tensor.name}": element ${bad} is ${value}, ${why}`);
	}
	return values;
}
