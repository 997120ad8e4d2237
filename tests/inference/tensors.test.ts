import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
	checkShape,
	DATATYPE_NAMES,
	type Datatype,
	decodeTensor,
	jsonData,
	type Tensor,
	TensorError,
	type TensorSpec,
} from "../../src/inference/tensors.ts";

/**
 * The Open Inference Protocol's tensor checks, in process: decodeTensor turns a client's JSON
 * data into the typed array onnxruntime takes, or a TensorError naming the input, the element and
 * the datatype; checkShape refuses a shape before anything is allocated; jsonData turns a result
 * back into JSON numbers (or booleans).
 */

const LIMIT = 1_000_000;

const spec = (datatype: Datatype, shape: readonly number[] = [-1], name = "x"): TensorSpec => ({
	name,
	datatype,
	shape,
});

/** Decodes `data` (flat, one dimension) as an input of `datatype`. */
const decodeFlat = (datatype: Datatype, data: unknown[], name = "x"): Tensor =>
	decodeTensor(spec(datatype, [-1], name), { name, datatype, shape: [data.length], data }, LIMIT);

/** The TensorError `run` throws; fails the test when it throws nothing or something else. */
function tensorError(run: () => unknown): TensorError {
	try {
		run();
	} catch (error) {
		if (error instanceof TensorError) return error;
		throw new Error(`expected a TensorError, got ${String(error)}`);
	}
	throw new Error("expected a TensorError, nothing was thrown");
}

describe("accepted values, each datatype into its typed array", () => {
	const cases: ReadonlyArray<{
		datatype: Datatype;
		values: unknown[];
		array: new (n: number) => ArrayLike<number | bigint>;
		json?: unknown[];
	}> = [
		{ datatype: "BOOL", values: [true, false, true], array: Uint8Array },
		{ datatype: "UINT8", values: [0, 1, 254, 255], array: Uint8Array },
		{ datatype: "UINT16", values: [0, 65_535], array: Uint16Array },
		{ datatype: "UINT32", values: [0, 4_294_967_295], array: Uint32Array },
		{ datatype: "UINT64", values: [0, 2 ** 40, Number.MAX_SAFE_INTEGER], array: BigUint64Array },
		{ datatype: "INT8", values: [-128, -1, 0, 127], array: Int8Array },
		{ datatype: "INT16", values: [-32_768, 32_767], array: Int16Array },
		{ datatype: "INT32", values: [-2_147_483_648, 0, 2_147_483_647], array: Int32Array },
		{
			datatype: "INT64",
			values: [Number.MIN_SAFE_INTEGER, -5_000_000_000, 0, 5_000_000_000, Number.MAX_SAFE_INTEGER],
			array: BigInt64Array,
		},
		{
			datatype: "FP32",
			values: [0, -1.5, 0.25, 3.4028234663852886e38, -3.4028234663852886e38, 2 ** -149],
			array: Float32Array,
		},
		{
			datatype: "FP64",
			values: [0, -0.1, 1 / 3, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE],
			array: Float64Array,
		},
	];

	test("the table covers every served datatype", () => {
		expect(cases.map((c) => c.datatype).sort()).toEqual([...DATATYPE_NAMES].sort());
	});

	for (const { datatype, values, array } of cases) {
		test(`${datatype}: ${values.map(String).join(", ")}`, () => {
			const tensor = decodeFlat(datatype, values);
			expect(tensor.data).toBeInstanceOf(array);
			expect(tensor.datatype).toBe(datatype);
			expect(tensor.shape).toEqual([values.length]);
			expect(tensor.data.length).toBe(values.length);
			// Back to JSON: the same values (FP32 ones are all exact float32 values here).
			expect(jsonData(tensor)).toEqual(values as number[]);
		});
	}

	test("INT64 stores BigInts, exactly, beyond 32 bits", () => {
		const tensor = decodeFlat("INT64", [-5_000_000_000, Number.MAX_SAFE_INTEGER]);
		expect(Array.from(tensor.data as BigInt64Array)).toEqual([
			-5_000_000_000n,
			9_007_199_254_740_991n,
		]);
	});

	test("UINT64 stores BigInts", () => {
		const tensor = decodeFlat("UINT64", [0, Number.MAX_SAFE_INTEGER]);
		expect(Array.from(tensor.data as BigUint64Array)).toEqual([0n, 9_007_199_254_740_991n]);
	});

	test("BOOL stores 1 and 0, and jsonData gives booleans back", () => {
		const tensor = decodeFlat("BOOL", [true, false, false, true]);
		expect(Array.from(tensor.data as Uint8Array)).toEqual([1, 0, 0, 1]);
		expect(jsonData(tensor)).toEqual([true, false, false, true]);
	});

	test("FP32 rounds to float32 (0.1 is not exact)", () => {
		const tensor = decodeFlat("FP32", [0.1]);
		expect((tensor.data as Float32Array)[0]).toBe(Math.fround(0.1));
		expect(jsonData(tensor)).toEqual([Math.fround(0.1)]);
	});

	test("-0 is a whole number: stored as 0 in INT64", () => {
		const tensor = decodeFlat("INT64", [-0]);
		expect(Array.from(tensor.data as BigInt64Array)).toEqual([0n]);
	});

	test("a whole number written as 1e3 or 2.0 is one (JSON cannot tell)", () => {
		expect(jsonData(decodeFlat("INT32", [1e3, 2.0]))).toEqual([1000, 2]);
	});

	test("jsonData refuses what JSON cannot carry exactly, naming the output and element", () => {
		const wide: Tensor = {
			name: "y",
			datatype: "INT64",
			shape: [2],
			data: BigInt64Array.of(2n ** 53n - 1n, 2n ** 62n + 1n),
		};
		expect(() => jsonData(wide)).toThrow(
			'output "y": element 1 is 4611686018427387905, beyond the integers a JSON number carries exactly',
		);
		for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
			const floats: Tensor = {
				name: "z",
				datatype: "FP64",
				shape: [2],
				data: Float64Array.of(1, value),
			};
			expect(() => jsonData(floats)).toThrow(
				`output "z": element 1 is ${value}, which JSON cannot carry`,
			);
		}
		const safe: Tensor = {
			name: "y",
			datatype: "INT64",
			shape: [1],
			data: BigInt64Array.of(-(2n ** 53n) + 1n),
		};
		expect(jsonData(safe)).toEqual([-(2 ** 53) + 1]);
	});
});

describe("refused values: the message names the input, the element and the datatype", () => {
	/** [datatype, value, index it is put at] */
	const refused: ReadonlyArray<readonly [Datatype, unknown]> = [
		// Range edges, one past each end.
		["INT8", -129],
		["INT8", 128],
		["UINT8", -1],
		["UINT8", 256],
		["INT16", -32_769],
		["INT16", 32_768],
		["UINT16", 65_536],
		["INT32", -2_147_483_649],
		["INT32", 2_147_483_648],
		["UINT32", -1],
		["UINT32", 4_294_967_296],
		["INT64", Number.MAX_SAFE_INTEGER + 1],
		["INT64", Number.MIN_SAFE_INTEGER - 1],
		["INT64", 2 ** 63],
		["UINT64", Number.MAX_SAFE_INTEGER + 1],
		["UINT64", -1],
		["FP32", 3.5e38],
		["FP32", -3.5e38],
		["FP32", Number.MAX_VALUE],
		["FP32", Number.POSITIVE_INFINITY],
		// Fractions, strings, null and other non-numbers for every integer type.
		...(
			["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"] as const
		).flatMap((datatype) =>
			[1.5, -0.5, "1", "abc", null, true, [], {}].map((value) => [datatype, value] as const),
		),
		["FP32", "1.5"],
		["FP32", null],
		["FP32", false],
		["FP64", "NaN"],
		["FP64", null],
		["FP64", true],
		["FP64", { value: 1 }],
		["BOOL", 1],
		["BOOL", 0],
		["BOOL", "true"],
		["BOOL", null],
	];

	for (const [datatype, value] of refused) {
		const shown = JSON.stringify(value) ?? String(value);
		test(`${datatype}: ${shown} at element 2`, () => {
			const good = datatype === "BOOL" ? true : 1;
			// An array value in flat data is nesting, refused for its own reason: see "nesting".
			const data = [good, good, value, good];
			const error = tensorError(() => decodeFlat(datatype, data, "counts"));
			expect(error.message).toContain('input "counts"');
			if (!Array.isArray(value)) {
				expect(error.message).toContain("element 2");
				expect(error.message).toContain(datatype);
			}
		});
	}

	test("a refused string is quoted in the message", () => {
		const error = tensorError(() => decodeFlat("INT64", [1, "1"], "count"));
		expect(error.message).toBe(
			'input "count": element 1 is "1", not INT64 (a whole number -9007199254740991 to 9007199254740991)',
		);
	});

	test("null is shown as null", () => {
		expect(tensorError(() => decodeFlat("INT8", [null])).message).toContain("element 0 is null");
	});

	test("FP64 refuses what is not a finite number (JSON's 1e309 parses to Infinity)", () => {
		// The same rule as FP32's: a value that would be Infinity must not reach the model, whose
		// outputs JSON could not carry (JSON.stringify(Infinity) is null).
		const infinity = JSON.parse("[1e309]") as number[];
		expect(tensorError(() => decodeFlat("FP64", infinity, "w")).message).toContain('input "w"');
		expect(tensorError(() => decodeFlat("FP64", [Number.NaN], "w")).message).toContain("w");
	});

	test("the element index counts in row-major order through nesting", () => {
		const error = tensorError(() =>
			decodeTensor(
				spec("INT32", [-1, 3], "m"),
				{
					name: "m",
					datatype: "INT32",
					shape: [2, 3],
					data: [
						[1, 2, 3],
						[4, 1.5, 6],
					],
				},
				LIMIT,
			),
		);
		expect(error.message).toContain("element 4 is 1.5");
	});
});

describe("datatype", () => {
	for (const given of ["FP64", "INT32", "int64", "FP8", "BYTES", "FP16", ""]) {
		test(`${JSON.stringify(given)} for an INT64 input is refused, naming both`, () => {
			const error = tensorError(() =>
				decodeTensor(
					spec("INT64", [-1], "count"),
					{ name: "count", datatype: given, shape: [1], data: [1] },
					LIMIT,
				),
			);
			expect(error.message).toBe(
				`input "count": datatype ${given} does not match the model's INT64`,
			);
		});
	}
});

describe("nesting", () => {
	const mat = spec("INT32", [-1, 3], "m");
	const decode = (shape: number[], data: unknown) =>
		decodeTensor(mat, { name: "m", datatype: "INT32", shape, data }, LIMIT);

	test("nested and flat data give the same tensor", () => {
		const nested = decode(
			[2, 3],
			[
				[1, 2, 3],
				[4, 5, 6],
			],
		);
		const flat = decode([2, 3], [1, 2, 3, 4, 5, 6]);
		expect(Array.from(nested.data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6]);
		expect(nested).toEqual(flat);
	});

	test("any valid nesting flattens to its flat form (property)", () => {
		const shapeAndValues = fc
			.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
			.chain((shape) => {
				const count = shape.reduce((a, b) => a * b, 1);
				return fc.tuple(
					fc.constant(shape),
					fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), {
						minLength: count,
						maxLength: count,
					}),
				);
			});
		fc.assert(
			fc.property(shapeAndValues, ([shape, values]) => {
				const nest = (axis: number, offset: number): unknown[] => {
					const size = shape[axis] as number;
					if (axis === shape.length - 1) return values.slice(offset, offset + size);
					const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
					return Array.from({ length: size }, (_, i) => nest(axis + 1, offset + i * stride));
				};
				const s = spec(
					"INT32",
					shape.map(() => -1),
				);
				const request = { name: "x", datatype: "INT32", shape };
				const nested = decodeTensor(s, { ...request, data: nest(0, 0) }, LIMIT);
				const flat = decodeTensor(s, { ...request, data: values }, LIMIT);
				expect(Array.from(nested.data as Int32Array)).toEqual(values);
				expect(Array.from(flat.data as Int32Array)).toEqual(values);
			}),
			{ seed: 0x7e5, numRuns: 300 },
		);
	});

	test("ragged rows are refused, not reflowed", () => {
		const error = tensorError(() =>
			decode(
				[2, 3],
				[
					[1, 2, 3, 4],
					[5, 6],
				],
			),
		);
		expect(error.message).toContain('input "m"');
		expect(error.message).toContain("dimension 1");
	});

	test("a short last row is refused", () => {
		expect(tensorError(() => decode([2, 3], [[1, 2, 3], [4]])).message).toContain(
			"nested data has 1 elements on dimension 1, the shape says 3",
		);
	});

	test("the wrong number of rows is refused", () => {
		expect(tensorError(() => decode([2, 3], [[1, 2, 3]])).message).toContain(
			"nested data has 1 elements on dimension 0, the shape says 2",
		);
	});

	test("data nesting deeper than the shape is refused", () => {
		const error = tensorError(() =>
			decode(
				[2, 3],
				[
					[[1], [2], [3]],
					[[4], [5], [6]],
				],
			),
		);
		expect(error.message).toBe('input "m": data nests deeper than its shape');
	});

	test("a value where the shape needs an array is refused", () => {
		expect(tensorError(() => decode([2, 3], [[1, 2, 3], 4])).message).toBe(
			'input "m": nested data has a value where the shape needs an array',
		);
	});

	test("a nested array inside otherwise flat data is refused", () => {
		expect(tensorError(() => decode([2, 3], [1, 2, 3, 4, 5, [6]])).message).toContain('"m"');
	});

	test("empty rows are refused", () => {
		expect(tensorError(() => decode([2, 3], [[], []])).message).toContain('"m"');
	});

	test("100,000 levels of nesting: a TensorError, not a stack overflow", () => {
		let data: unknown = [1];
		for (let i = 0; i < 100_000; i++) data = [data];
		const error = tensorError(() => decode([1, 1], data));
		expect(error.message).toContain('input "m"');
	});

	test("data that is not an array is refused", () => {
		for (const data of [5, "1,2,3", null, undefined, { 0: 1 }]) {
			expect(tensorError(() => decode([1, 3], data)).message).toBe(
				'input "m": data must be an array',
			);
		}
	});
});

describe("element count", () => {
	const vec = spec("FP64", [-1], "v");
	const decode = (shape: number[], data: unknown[]) =>
		decodeTensor(vec, { name: "v", datatype: "FP64", shape, data }, LIMIT);

	test("too few elements", () => {
		expect(tensorError(() => decode([3], [1, 2])).message).toBe(
			'input "v": data has 2 elements, shape [3] needs 3',
		);
	});

	test("too many elements", () => {
		expect(tensorError(() => decode([3], [1, 2, 3, 4])).message).toBe(
			'input "v": data has 4 elements, shape [3] needs 3',
		);
	});

	test("a bad value past the count is still reported as itself", () => {
		expect(tensorError(() => decode([1], [1, "x"])).message).toContain("element 1");
	});
});

describe("checkShape", () => {
	const mat = spec("FP32", [-1, 3], "features");

	test("gives the element count", () => {
		expect(checkShape(mat, [1, 3], LIMIT)).toBe(3);
		expect(checkShape(mat, [1000, 3], LIMIT)).toBe(3000);
		expect(checkShape(spec("FP32", [2, 2]), [2, 2], LIMIT)).toBe(4);
	});

	test("a rank that differs from the model's", () => {
		for (const shape of [[3], [1, 1, 3], []]) {
			expect(tensorError(() => checkShape(mat, shape, LIMIT)).message).toBe(
				`input "features": shape [${shape.join(", ")}] has ${shape.length} dimensions, the model takes 2 ([-1, 3])`,
			);
		}
	});

	test("a fixed dimension of another size", () => {
		expect(tensorError(() => checkShape(mat, [2, 4], LIMIT)).message).toBe(
			'input "features": dimension 1 is 4, the model takes 3 ([-1, 3])',
		);
	});

	for (const size of [0, -1, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
		test(`dimension ${size} is refused`, () => {
			const error = tensorError(() => checkShape(mat, [size, 3], LIMIT));
			expect(error.message).toBe(
				`input "features": dimension 0 is ${size}, not a whole number >= 1`,
			);
		});
	}

	test("a bad dimension after a good one names its axis", () => {
		expect(tensorError(() => checkShape(mat, [2, 0], LIMIT)).message).toContain("dimension 1 is 0");
	});

	test("exactly the limit is accepted, one more is refused", () => {
		expect(checkShape(mat, [10, 3], 30)).toBe(30);
		expect(tensorError(() => checkShape(mat, [11, 3], 30)).message).toBe(
			'input "features": shape [11, 3] exceeds the limit of 30 elements per request',
		);
	});

	test("a huge shape is refused before anything is allocated", () => {
		const huge = spec("FP64", [-1, -1], "h");
		// Were anything allocated, these would be RangeErrors (or take the machine's memory).
		for (const shape of [
			[1e9, 1e9],
			[1e9, 3],
			[2 ** 53, 2 ** 53],
			[Number.MAX_SAFE_INTEGER, 1],
		]) {
			expect(tensorError(() => checkShape(huge, shape, 4 * 1024 * 1024)).message).toContain(
				"exceeds the limit",
			);
			expect(
				tensorError(() =>
					decodeTensor(huge, { name: "h", datatype: "FP64", shape, data: [1, 2, 3] }, 4 << 20),
				).message,
			).toContain("exceeds the limit");
		}
	});

	test("decodeTensor checks the shape before the data", () => {
		// The data is wrong too, but the shape is what is reported: nothing was read or allocated.
		const error = tensorError(() =>
			decodeTensor(
				mat,
				{ name: "features", datatype: "FP32", shape: [1e9, 3], data: "not data" },
				LIMIT,
			),
		);
		expect(error.message).toContain("exceeds the limit");
	});

	test("a limit of 0 remaining refuses any tensor", () => {
		expect(tensorError(() => checkShape(mat, [1, 3], 0)).message).toContain("exceeds the limit");
	});
});
