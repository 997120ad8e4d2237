import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { Manifest, type ModelEntry } from "../../src/inference/manifest.ts";
import { createOnnxExecutor } from "../../src/inference/onnx.ts";
import {
	createRowEncoder,
	encodeRows,
	type PassengerFeatures,
} from "../../src/inference/preprocess.ts";
import { PROJECT_ROOT } from "../support/server.ts";

/**
 * The service calls onnxruntime's native session directly; the public InferenceSession API is
 * the reference it must match.
 */

const MODELS = `${PROJECT_ROOT}models/`;
const manifest = Manifest.parse(JSON.parse(readFileSync(`${MODELS}manifest.json`, "utf8")));

/** Every class and sex, ages from infant to old (and missing), fares from zero to the top. */
function grid(): PassengerFeatures[] {
	const passengers: PassengerFeatures[] = [];
	for (const Pclass of [1, 2, 3])
		for (const Sex of ["female", "male"] as const)
			for (const Age of [null, 0.5, 8, 18, 29, 30.5, 45, 80])
				for (const [SibSp, Parch] of [
					[0, 0],
					[1, 0],
					[1, 2],
					[4, 2],
				] as const)
					for (const Fare of [0, 7.25, 26, 71.28, 512.33])
						passengers.push({ Pclass, Sex, Age, SibSp, Parch, Fare });
	return passengers;
}

describe.each(["mlp", "gbdt"] as const)("%s through the native session", (family) => {
	const entry = manifest.models[family];
	const bytes = readFileSync(`${MODELS}${entry.file}`);

	test("matches the public InferenceSession on every passenger of a grid", async () => {
		const passengers = grid();
		const input = encodeRows(createRowEncoder(manifest.preprocessing, entry.scaling), passengers);
		const executor = createOnnxExecutor(bytes, entry);
		const ours = await executor.predict(input, passengers.length);
		const session = await ort.InferenceSession.create(bytes);
		const output = await session.run({
			x: new ort.Tensor("float32", input, [passengers.length, 6]),
		});
		const width = family === "gbdt" ? 2 : 1;
		const reference = output[entry.probability.output]?.data as Float32Array;
		expect(ours).toHaveLength(passengers.length);
		for (let i = 0; i < passengers.length; i++) {
			expect(ours[i]).toBe(reference[i * width + entry.probability.column] as number);
		}
		await session.release();
		await executor.close?.();
	});

	const broken: [string, Partial<ModelEntry>, RegExp][] = [
		[
			"an extra input",
			{ inputs: [...entry.inputs, { name: "y", type: "float32", shape: ["N", 6] }] },
			/has 1 inputs, the manifest expects 2/,
		],
		[
			"another input name",
			{ inputs: [{ name: "features", type: "float32", shape: ["N", 6] }] },
			/has no input "features"/,
		],
		[
			"another width",
			{ inputs: [{ name: "x", type: "float32", shape: ["N", 7] }] },
			/input "x" has shape \[N,6\], the manifest says \[N,7\]/,
		],
		[
			"another type",
			{ inputs: [{ name: "x", type: "int64", shape: ["N", 6] }] },
			/input "x" is not a tensor of int64/,
		],
		[
			"a missing output",
			{ outputs: [{ name: "score", type: "float32", shape: ["N", 1] }] },
			/has no output "score"/,
		],
	];
	for (const [name, change, message] of broken) {
		test(`refuses a graph that does not match the manifest: ${name}`, () => {
			expect(() => createOnnxExecutor(bytes, { ...entry, ...change })).toThrow(message);
		});
	}

	test("refuses bytes that are not an ONNX graph", () => {
		expect(() => createOnnxExecutor(new Uint8Array([1, 2, 3, 4]), entry)).toThrow();
	});
});
