import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import {
	IDENTITY_DATATYPES,
	type IdentityDatatype,
	IR_VERSION,
	identityModel,
	identitySpec,
	MIXED_EXAMPLE,
	MIXED_SPEC,
	type ModelSpec,
	mixedExpected,
	mixedModel,
	notOnnxBytes,
	OPSET,
	SPEC_EXAMPLE_OUTPUT0,
	SPEC_EXAMPLE_REQUEST,
	SPEC_EXAMPLE_SPEC,
	STRING_INPUT_SPEC,
	specExampleModel,
	stringInputModel,
	UNKNOWN_DIM_SPEC,
	unknownDimModel,
	type V2Datatype,
	writeModel,
} from "./onnx-models.ts";

/**
 * The test models, checked against onnxruntime's public API: what it reports about their inputs
 * and outputs, and what running them gives. Computed float outputs are compared within a
 * tolerance, never bit for bit; Identity copies, so its outputs are compared exactly.
 */

/** float64 products, computed by onnxruntime and by JS: at most an ulp or so apart. */
const FP64_TOLERANCE = 1e-9;
/** A float32 constant against the decimal the spec writes. */
const FP32_TOLERANCE = 1e-6;

/** The public API's name for each V2 datatype. */
const ORT_TYPE: Record<V2Datatype, ort.Tensor.Type> = {
	BOOL: "bool",
	UINT8: "uint8",
	UINT16: "uint16",
	UINT32: "uint32",
	UINT64: "uint64",
	INT8: "int8",
	INT16: "int16",
	INT32: "int32",
	INT64: "int64",
	FP32: "float32",
	FP64: "float64",
	BYTES: "string",
};

function tensorMetadata(m: ort.InferenceSession.ValueMetadata) {
	if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
	return m;
}

/**
 * The public API gives a dynamic dimension as a string: its dim_param, or "" when the graph names
 * none. V2 metadata says -1 for both.
 */
const v2Shape = (shape: readonly (number | string)[]) =>
	shape.map((d) => (typeof d === "number" ? d : -1));

/** The shapes exactly as the public API reports them. */
const rawShapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
	metadata.map((m) => tensorMetadata(m).shape);

/** Names, types and shapes as onnxruntime reports them, in the spec's terms. */
function describeSession(session: ort.InferenceSession) {
	const side = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
		metadata.map(tensorMetadata).map(({ name, type, shape }) => ({
			name,
			type,
			shape: v2Shape(shape),
		}));
	return {
		inputNames: session.inputNames,
		outputNames: session.outputNames,
		inputs: side(session.inputMetadata),
		outputs: side(session.outputMetadata),
	};
}

function expected(spec: ModelSpec) {
	const side = (tensors: ModelSpec["inputs"]) =>
		tensors.map(({ name, datatype, shape }) => ({
			name,
			type: ORT_TYPE[datatype],
			shape: [...shape],
		}));
	return {
		inputNames: spec.inputs.map((t) => t.name),
		outputNames: spec.outputs.map((t) => t.name),
		inputs: side(spec.inputs),
		outputs: side(spec.outputs),
	};
}

/** Creates a session for `bytes`, hands it to `use`, and releases it whatever happens. */
async function withSession<T>(
	bytes: Uint8Array | string,
	use: (session: ort.InferenceSession) => Promise<T>,
	options: ort.InferenceSession.SessionOptions = {},
): Promise<T> {
	const session =
		typeof bytes === "string"
			? await ort.InferenceSession.create(bytes, options)
			: await ort.InferenceSession.create(bytes, options);
	try {
		return await use(session);
	} finally {
		await session.release();
	}
}

function expectClose(actual: ArrayLike<number>, want: readonly number[], tolerance: number) {
	expect(actual).toHaveLength(want.length);
	Array.from(actual).forEach((value, i) => {
		expect(Math.abs(value - (want[i] ?? Number.NaN))).toBeLessThanOrEqual(tolerance);
	});
}

describe("every builder", () => {
	const builders = {
		mixedModel,
		specExampleModel,
		identityModel: () => identityModel(),
		unknownDimModel,
		stringInputModel,
	};

	test.each(Object.entries(builders))(
		"%s writes IR version 8, default-domain opset 13",
		(_, build) => {
			const model = onnxProto.onnx.ModelProto.decode(build());
			expect(Number(model.irVersion)).toBe(IR_VERSION);
			expect(model.opsetImport.map((o) => [o.domain ?? "", Number(o.version)])).toEqual([
				["", OPSET],
			]);
		},
	);
});

describe("writeModel", () => {
	const root = mkdtempSync(join(tmpdir(), "onnx-models-"));
	afterAll(() => rmSync(root, { recursive: true, force: true }));

	test("creates the directory, writes the bytes and returns a path onnxruntime loads", async () => {
		const bytes = mixedModel();
		const path = writeModel(join(root, "nested", "dir"), "mixed.onnx", bytes);
		expect(path).toBe(join(root, "nested", "dir", "mixed.onnx"));
		expect<Uint8Array>(new Uint8Array(readFileSync(path))).toEqual(bytes);
		await withSession(path, async (session) => {
			expect(session.inputNames).toEqual(MIXED_SPEC.inputs.map((t) => t.name));
		});
	});
});

describe("mixedModel", () => {
	test("declares count INT64 and weight FP64 [N, 3]; scaled FP64 [N, 3] and total INT64 [N]", async () => {
		expect(MIXED_SPEC).toEqual({
			inputs: [
				{ name: "count", datatype: "INT64", shape: [-1, 3] },
				{ name: "weight", datatype: "FP64", shape: [-1, 3] },
			],
			outputs: [
				{ name: "scaled", datatype: "FP64", shape: [-1, 3] },
				{ name: "total", datatype: "INT64", shape: [-1] },
			],
		});
		await withSession(mixedModel(), async (session) => {
			expect(describeSession(session)).toEqual(expected(MIXED_SPEC));
			// A symbolic dimension keeps its name in the public API.
			expect(rawShapes(session.inputMetadata)).toEqual([
				["N", 3],
				["N", 3],
			]);
			expect(rawShapes(session.outputMetadata)).toEqual([["N", 3], ["N"]]);
		});
	});

	test("the example weights tell float64 from float32 at the tolerance used", () => {
		const { scaled } = mixedExpected(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight);
		const viaFloat32 = MIXED_EXAMPLE.count.map((row, i) =>
			row.map((c, j) => Math.fround(c) * Math.fround(MIXED_EXAMPLE.weight[i]?.[j] ?? 0)),
		);
		const worst = Math.max(
			...scaled.flat().map((value, k) => Math.abs(value - (viaFloat32.flat()[k] ?? 0))),
		);
		expect(worst).toBeGreaterThan(100 * FP64_TOLERANCE);
		// One count does not fit in an int32.
		expect(Math.max(...MIXED_EXAMPLE.count.flat())).toBeGreaterThan(2 ** 31);
	});

	test.each([
		["the example rows", MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight],
		["a single row", [[7, -8, 9]], [[0.3, 0.6, -0.9]]],
	] as const)("computes scaled and total for %s", async (_, count, weight) => {
		const rows = count.length;
		const want = mixedExpected(count, weight);
		await withSession(mixedModel(), async (session) => {
			const out = await session.run({
				count: new ort.Tensor("int64", BigInt64Array.from(count.flat(), BigInt), [rows, 3]),
				weight: new ort.Tensor("float64", Float64Array.from(weight.flat()), [rows, 3]),
			});
			expect(out.scaled?.type).toBe("float64");
			expect(out.scaled?.dims).toEqual([rows, 3]);
			expectClose(out.scaled?.data as Float64Array, want.scaled.flat(), FP64_TOLERANCE);
			expect(out.total?.type).toBe("int64");
			expect(out.total?.dims).toEqual([rows]);
			expect(Array.from(out.total?.data as BigInt64Array)).toEqual(want.total.map(BigInt));
		});
	});
});

describe("specExampleModel", () => {
	const feeds = () => {
		const [input0, input1] = SPEC_EXAMPLE_REQUEST.inputs;
		return {
			input0: new ort.Tensor("uint32", Uint32Array.from(input0.data), [...input0.shape]),
			input1: new ort.Tensor("bool", Uint8Array.from(input1.data, Number), [...input1.shape]),
		};
	};

	test("declares the spec's inputs and output0, plus output1 UINT32 [2, 2]", async () => {
		expect(SPEC_EXAMPLE_SPEC).toEqual({
			inputs: [
				{ name: "input0", datatype: "UINT32", shape: [2, 2] },
				{ name: "input1", datatype: "BOOL", shape: [3] },
			],
			outputs: [
				{ name: "output0", datatype: "FP32", shape: [3, 2] },
				{ name: "output1", datatype: "UINT32", shape: [2, 2] },
			],
		});
		await withSession(specExampleModel(), async (session) => {
			expect(describeSession(session)).toEqual(expected(SPEC_EXAMPLE_SPEC));
		});
	});

	test("the example request matches the declared inputs", () => {
		for (const input of SPEC_EXAMPLE_REQUEST.inputs) {
			const declared = SPEC_EXAMPLE_SPEC.inputs.find((t) => t.name === input.name);
			expect(declared?.datatype).toBe(input.datatype);
			expect(declared?.shape).toEqual([...input.shape]);
			expect(input.data).toHaveLength(input.shape.reduce((a, b) => a * b, 1));
		}
	});

	test("output0 is the spec's constant and output1 echoes input0", async () => {
		await withSession(specExampleModel(), async (session) => {
			const out = await session.run(feeds());
			expect(out.output0?.type).toBe("float32");
			expect(out.output0?.dims).toEqual([3, 2]);
			expectClose(out.output0?.data as Float32Array, [...SPEC_EXAMPLE_OUTPUT0], FP32_TOLERANCE);
			expect(out.output1?.type).toBe("uint32");
			expect(out.output1?.dims).toEqual([2, 2]);
			expect(Array.from(out.output1?.data as Uint32Array)).toEqual([1, 2, 3, 4]);
		});
	});

	test("fetching output0 alone returns only output0", async () => {
		await withSession(specExampleModel(), async (session) => {
			const out = await session.run(feeds(), ["output0"]);
			expect(Object.keys(out)).toEqual(["output0"]);
		});
	});

	// input1 feeds no node; optimisation must not drop it, and onnxruntime still wants it fed.
	test("input1 stays a graph input under full optimisation, and must be fed", async () => {
		const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "all" };
		await withSession(
			specExampleModel(),
			async (session) => {
				expect(session.inputNames).toEqual(["input0", "input1"]);
				const { input0 } = feeds();
				await expect(session.run({ input0 })).rejects.toThrow(/input1/);
				const out = await session.run(feeds());
				expectClose(out.output0?.data as Float32Array, [...SPEC_EXAMPLE_OUTPUT0], FP32_TOLERANCE);
			},
			options,
		);
	});
});

describe("identityModel", () => {
	/** Per datatype: a typed array of edge values, its length different for every type. */
	const SAMPLES: Record<IdentityDatatype, ort.Tensor.DataType> = {
		BOOL: Uint8Array.from([1, 0, 1]),
		UINT8: Uint8Array.from([0, 1, 255, 128]),
		UINT16: Uint16Array.from([0, 65535]),
		UINT32: Uint32Array.from([0, 1, 2 ** 31, 2 ** 32 - 1, 7]),
		UINT64: BigUint64Array.from([0n, 2n ** 53n + 1n, 2n ** 64n - 1n]),
		INT8: Int8Array.from([-128, 0, 127]),
		INT16: Int16Array.from([-32768, 32767, -1, 0]),
		INT32: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]),
		INT64: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 53n) - 1n, 0n, 5n, 6n]),
		FP32: Float32Array.from([0.5, -1.25, 3.4e38, Number.POSITIVE_INFINITY, -0]),
		FP64: Float64Array.from([0.1, -1e300, 5e-324, Math.PI]),
	};

	test("covers every V2 datatype but FP16 and BYTES, each with its own symbolic dim", async () => {
		expect([...IDENTITY_DATATYPES]).toEqual([
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
		]);
		const spec = identitySpec();
		expect(spec.inputs.map((t) => t.name)).toEqual(IDENTITY_DATATYPES.map((t) => `in_${t}`));
		expect(spec.outputs.map((t) => t.name)).toEqual(IDENTITY_DATATYPES.map((t) => `out_${t}`));
		await withSession(identityModel(), async (session) => {
			expect(describeSession(session)).toEqual(expected(spec));
			const names = rawShapes(session.inputMetadata).map(([dim]) => dim);
			expect(new Set(names).size).toBe(IDENTITY_DATATYPES.length);
		});
	});

	test("round-trips every datatype, each input with its own length, in one run", async () => {
		const feeds = Object.fromEntries(
			IDENTITY_DATATYPES.map((t) => [
				`in_${t}`,
				new ort.Tensor(ORT_TYPE[t], SAMPLES[t], [SAMPLES[t].length]),
			]),
		);
		await withSession(identityModel(), async (session) => {
			const out = await session.run(feeds);
			for (const t of IDENTITY_DATATYPES) {
				const tensor = out[`out_${t}`];
				expect(tensor?.type).toBe(ORT_TYPE[t]);
				expect(tensor?.dims).toEqual([SAMPLES[t].length]);
				expect(tensor?.data).toEqual(SAMPLES[t]);
			}
		});
	});

	test.each([...IDENTITY_DATATYPES])("a model of %s alone loads and round-trips", async (t) => {
		const spec = identitySpec([t]);
		await withSession(identityModel([t]), async (session) => {
			expect(describeSession(session)).toEqual(expected(spec));
			const out = await session.run({
				[`in_${t}`]: new ort.Tensor(ORT_TYPE[t], SAMPLES[t], [SAMPLES[t].length]),
			});
			expect(out[`out_${t}`]?.data).toEqual(SAMPLES[t]);
		});
	});
});

describe("unknownDimModel", () => {
	test("x and y FP32 [-1, 4]; the public API shows the unnamed dimension as an empty string", async () => {
		expect(UNKNOWN_DIM_SPEC).toEqual({
			inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
			outputs: [{ name: "y", datatype: "FP32", shape: [-1, 4] }],
		});
		await withSession(unknownDimModel(), async (session) => {
			expect(describeSession(session)).toEqual(expected(UNKNOWN_DIM_SPEC));
			// Neither a number nor a name: "", where the native binding says -1.
			expect(rawShapes(session.inputMetadata)).toEqual([["", 4]]);
			expect(rawShapes(session.outputMetadata)).toEqual([["", 4]]);
		});
	});

	test.each([1, 3])("runs with %i rows", async (rows) => {
		const data = Float32Array.from({ length: rows * 4 }, (_, i) => i / 4);
		await withSession(unknownDimModel(), async (session) => {
			const out = await session.run({ x: new ort.Tensor("float32", data, [rows, 4]) });
			expect(out.y?.dims).toEqual([rows, 4]);
			expect(out.y?.data).toEqual(data);
		});
	});
});

describe("stringInputModel", () => {
	test("loads and runs in onnxruntime: refusing it is the server's doing", async () => {
		expect(STRING_INPUT_SPEC).toEqual({
			inputs: [{ name: "text", datatype: "BYTES", shape: [-1] }],
			outputs: [{ name: "echo", datatype: "BYTES", shape: [-1] }],
		});
		await withSession(stringInputModel(), async (session) => {
			expect(describeSession(session)).toEqual(expected(STRING_INPUT_SPEC));
			const words = ["bring", "your own", "model"];
			const out = await session.run({ text: new ort.Tensor("string", words, [words.length]) });
			expect(out.echo?.type).toBe("string");
			expect(out.echo?.data).toEqual(words);
		});
	});
});

describe("notOnnxBytes", () => {
	test("is not empty, and onnxruntime refuses to load it", async () => {
		const bytes = notOnnxBytes();
		expect(bytes.length).toBeGreaterThan(0);
		await expect(ort.InferenceSession.create(bytes)).rejects.toThrow();
	});
});
