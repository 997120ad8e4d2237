import { describe, expect, test } from "bun:test";
import { chooseOrtBackend, type OrtBackend } from "../../src/inference/onnx.ts";
import { openGraphModel, zeroInputs } from "../../src/inference/onnx-graph.ts";
import type { TensorModel } from "../../src/inference/tensor-model.ts";
import { DATATYPES, type Tensor } from "../../src/inference/tensors.ts";
import {
	IDENTITY_DATATYPES,
	identityModel,
	MIXED_EXAMPLE,
	mixedExpected,
	mixedModel,
	specExampleModel,
} from "../support/onnx-models.ts";

/**
 * Dropped-in graphs in process, on both onnxruntime backends: the native session gets plain feed
 * objects and no run options, the public API ort.Tensors. Both must give the same answers, call
 * after call, and refuse data that does not fill its shape the same way.
 */

const BACKENDS: Record<"native" | "public", { testedVersion?: string }> = {
	native: {},
	public: { testedVersion: "0.0.0-untested" },
};

/** Small values every datatype holds: 0, 1, 2, ... (booleans alternate). */
function valuesOf(datatype: keyof typeof DATATYPES, length: number): Tensor["data"] {
	const data = DATATYPES[datatype].allocate(length);
	for (let i = 0; i < length; i++)
		DATATYPES[datatype].store(data, i, datatype === "BOOL" ? i % 2 === 1 : i);
	return data;
}

const plain = (data: Tensor["data"]) => Array.from(data as ArrayLike<number | bigint>, String);

const infer = async (model: TensorModel, inputs: Tensor[], outputs: string[]) =>
	await model.infer(inputs, outputs);

describe.each(["native", "public"] as const)("a dropped-in graph on the %s backend", (kind) => {
	const backend: Promise<OrtBackend> = chooseOrtBackend({ ...BACKENDS[kind], warn: () => {} });

	test("the identity graph returns every datatype as given, call after call", async () => {
		expect((await backend).kind).toBe(kind);
		const model = await openGraphModel("identity", identityModel(), await backend);
		for (const length of [1, 5, 1, 0, 300]) {
			const inputs = IDENTITY_DATATYPES.map(
				(t): Tensor => ({
					name: `in_${t}`,
					datatype: t,
					shape: [length],
					data: valuesOf(t, length),
				}),
			);
			const outputs = await infer(
				model,
				inputs,
				IDENTITY_DATATYPES.map((t) => `out_${t}`),
			);
			for (const [i, t] of IDENTITY_DATATYPES.entries()) {
				expect(outputs[i]?.name).toBe(`out_${t}`);
				expect(outputs[i]?.datatype).toBe(t);
				expect(outputs[i]?.shape).toEqual([length]);
				expect(plain(outputs[i]?.data as Tensor["data"])).toEqual(
					plain(inputs[i]?.data as Tensor["data"]),
				);
			}
		}
		await model.close?.();
	});

	test("the mixed graph computes in int64 and float64, only the outputs asked for", async () => {
		const model = await openGraphModel("mixed", mixedModel(), await backend);
		const { count, weight } = MIXED_EXAMPLE;
		const inputs: Tensor[] = [
			{
				name: "count",
				datatype: "INT64",
				shape: [2, 3],
				data: BigInt64Array.from(count.flat(), (c) => BigInt(c)),
			},
			{ name: "weight", datatype: "FP64", shape: [2, 3], data: Float64Array.from(weight.flat()) },
		];
		const expected = mixedExpected(count, weight);
		const both = await infer(model, inputs, ["scaled", "total"]);
		expect(Array.from(both[0]?.data as Float64Array)).toEqual(expected.scaled.flat());
		expect(plain(both[1]?.data as Tensor["data"])).toEqual(expected.total.map(String));
		const totalOnly = await infer(model, inputs, ["total"]);
		expect(totalOnly.map((t) => t.name)).toEqual(["total"]);
		expect(totalOnly[0]?.shape).toEqual([2]);
		await model.close?.();
	});

	test("warms up with zeros and answers the spec's example", async () => {
		const model = await openGraphModel("spec", specExampleModel(), await backend);
		const zeros = await infer(model, zeroInputs(model), ["output0", "output1"]);
		expect(zeros[1]?.shape).toEqual([2, 2]);
		const [out] = await infer(
			model,
			[
				{ name: "input0", datatype: "UINT32", shape: [2, 2], data: Uint32Array.of(1, 2, 3, 4) },
				{ name: "input1", datatype: "BOOL", shape: [3], data: Uint8Array.of(1, 0, 1) },
			],
			["output1"],
		);
		expect(Array.from(out?.data as Uint32Array)).toEqual([1, 2, 3, 4]);
		await model.close?.();
	});

	test("refuses data that does not fill its shape exactly, with ort.Tensor's message", async () => {
		const model = await openGraphModel("identity", identityModel(["FP32"]), await backend);
		const input = (shape: number[], length: number): Tensor[] => [
			{ name: "in_FP32", datatype: "FP32", shape, data: new Float32Array(length) },
		];
		await expect(infer(model, input([2], 3), ["out_FP32"])).rejects.toThrow(
			"Tensor's size(2) does not match data length(3).",
		);
		await expect(infer(model, input([4], 3), ["out_FP32"])).rejects.toThrow(
			"Tensor's size(4) does not match data length(3).",
		);
		await model.close?.();
	});
});
