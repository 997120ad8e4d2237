import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import type { Executor } from "../../src/inference/executor.ts";
import { Manifest, type ModelEntry } from "../../src/inference/manifest.ts";
import { createMlpExecutor, MlpParams } from "../../src/inference/mlp.ts";
import {
	chooseOrtBackend,
	createOnnxExecutor,
	type OrtBackend,
	SESSION_OPTIONS,
} from "../../src/inference/onnx.ts";
import {
	createRowEncoder,
	encodeRows,
	type PassengerFeatures,
} from "../../src/inference/preprocess.ts";
import { createTreeEnsembleExecutor, TreeEnsembleParams } from "../../src/inference/trees.ts";
import { readTitanicCsv } from "../../src/train/csv.ts";
import { PROJECT_ROOT } from "../support/server.ts";
import { explainSkip, FULL_DATA, HAS_FULL_DATA } from "../train/fixtures.ts";

/**
 * The service runs ONNX graphs through onnxruntime's native session, or through the public
 * InferenceSession when the installed onnxruntime-node is not the tested one. Both must match
 * the public API and the TypeScript executors. Sessions configured differently (thread count,
 * optimisation) may sum trees in another order, so probabilities are compared within a
 * tolerance, never bit for bit, and labels wherever the probability is not that close to 0.5.
 */

const MODELS = `${PROJECT_ROOT}models/`;
const manifest = Manifest.parse(JSON.parse(readFileSync(`${MODELS}manifest.json`, "utf8")));
/** Same graph, same options, another call path: at most a float32 ulp or two apart. */
const SAME_GRAPH_TOLERANCE = 1e-6;
/** onnxruntime (float32 sums) against the TypeScript executors (float64 sums); measured 1.2e-7. */
const EXECUTOR_TOLERANCE = 1e-5;
explainSkip("the onnxruntime/TypeScript agreement on all 891 training rows");

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

/** Probabilities within `tolerance`, and the same label wherever that cannot flip it. */
function expectAgreement(ours: Float32Array, reference: Float32Array, tolerance: number): void {
	expect(ours).toHaveLength(reference.length);
	let worst = 0;
	const flipped: number[] = [];
	for (let i = 0; i < reference.length; i++) {
		const a = ours[i] ?? Number.NaN;
		const b = reference[i] ?? Number.NaN;
		worst = Math.max(worst, Number.isNaN(a - b) ? Number.POSITIVE_INFINITY : Math.abs(a - b));
		if (Math.abs(b - 0.5) > tolerance && a >= 0.5 !== b >= 0.5) flipped.push(i);
	}
	expect(worst).toBeLessThanOrEqual(tolerance);
	expect(flipped).toEqual([]);
}

/** The public API with the service's session options, as an independent reference. */
async function publicReference(bytes: Uint8Array, entry: ModelEntry, input: Float32Array) {
	const rows = input.length / 6;
	const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
	try {
		const output = await session.run({ x: new ort.Tensor("float32", input, [rows, 6]) });
		const data = output[entry.probability.output]?.data as Float32Array;
		const width = data.length / rows;
		return Float32Array.from(
			{ length: rows },
			(_, i) => data[i * width + entry.probability.column] ?? NaN,
		);
	} finally {
		await session.release();
	}
}

function typescriptExecutor(entry: ModelEntry) {
	const params: unknown = JSON.parse(readFileSync(`${MODELS}${entry.params.file}`, "utf8"));
	return entry.family === "mlp"
		? createMlpExecutor(MlpParams.parse(params))
		: createTreeEnsembleExecutor(TreeEnsembleParams.parse(params));
}

const predict = async (executor: Executor, input: Float32Array, rows = input.length / 6) =>
	executor.async ? await executor.predict(input, rows) : executor.predict(input, rows);

const BACKENDS: Record<"native" | "public", { testedVersion?: string }> = {
	native: {},
	// Any version but the installed one sends the service down the fallback.
	public: { testedVersion: "0.0.0-untested" },
};

describe.each([
	["mlp", "native"],
	["gbdt", "native"],
	["mlp", "public"],
	["gbdt", "public"],
] as const)("%s through the %s backend", (family, kind) => {
	const entry = manifest.models[family];
	const bytes = readFileSync(`${MODELS}${entry.file}`);
	const encode = createRowEncoder(manifest.preprocessing, entry.scaling);
	const warnings: string[] = [];
	const backend: Promise<OrtBackend> = chooseOrtBackend({
		...BACKENDS[kind],
		warn: (line) => warnings.push(line),
	});

	test(`is the ${kind} backend, ${kind === "native" ? "silently" : "with one warning"}`, async () => {
		expect((await backend).kind).toBe(kind);
		expect(warnings).toHaveLength(kind === "native" ? 0 : 1);
		const executor = await createOnnxExecutor(bytes, entry, await backend);
		// Only the fallback makes callers await.
		expect(Boolean(executor.async)).toBe(kind === "public");
		await executor.close?.();
	});

	test("matches the public InferenceSession on every passenger of a grid", async () => {
		const input = encodeRows(encode, grid());
		const executor = await createOnnxExecutor(bytes, entry, await backend);
		const ours = await predict(executor, input);
		expectAgreement(ours, await publicReference(bytes, entry, input), SAME_GRAPH_TOLERANCE);
		await executor.close?.();
	});

	test("matches the TypeScript executor on the grid, and on one row or none", async () => {
		const executor = await createOnnxExecutor(bytes, entry, await backend);
		const typescript = typescriptExecutor(entry);
		for (const input of [encodeRows(encode, grid()), encodeRows(encode, grid().slice(0, 1))]) {
			expectAgreement(
				await predict(executor, input),
				typescript.predict(input, input.length / 6),
				EXECUTOR_TOLERANCE,
			);
		}
		expect(await predict(executor, new Float32Array(0))).toHaveLength(0);
		await executor.close?.();
	});

	test("answers each call from its own input, in arrays no later call overwrites", async () => {
		const executor = await createOnnxExecutor(bytes, entry, await backend);
		const typescript = typescriptExecutor(entry);
		const passengers = grid();
		// Two single rows apart, a batch after a single row, a single row after the batch, and
		// batches of other sizes: each answer checked once every call has been made.
		const calls = [
			passengers.slice(0, 1),
			passengers.slice(479, 480),
			[...passengers, ...passengers].slice(0, 1000),
			passengers.slice(5, 6),
			passengers.slice(100, 107),
			passengers.slice(0, 1),
		].map((rows) => encodeRows(encode, rows));
		const answers: Float32Array[] = [];
		for (const input of calls) answers.push(await predict(executor, input));
		const snapshots = answers.map((a) => Array.from(a));
		for (const [i, input] of calls.entries()) {
			expect(Array.from(answers[i] as Float32Array)).toEqual(snapshots[i] as number[]);
			expectAgreement(
				answers[i] as Float32Array,
				typescript.predict(input, input.length / 6),
				EXECUTOR_TOLERANCE,
			);
		}
		expect(answers[1]?.[0]).not.toBe(answers[0]?.[0]);
		expect(Array.from(answers[5] as Float32Array)).toEqual(snapshots[0] as number[]);
		expect(answers[2]).toHaveLength(1000);
		await executor.close?.();
	});

	test("refuses an input whose length is not rows x 6, as ort.Tensor did", async () => {
		const executor = await createOnnxExecutor(bytes, entry, await backend);
		const row = encodeRows(encode, grid().slice(0, 2));
		// More values than rows need would otherwise run on the first rows and ignore the rest.
		await expect(predict(executor, row, 1)).rejects.toThrow(
			"Tensor's size(6) does not match data length(12).",
		);
		await expect(predict(executor, row.subarray(0, 6), 2)).rejects.toThrow(
			"Tensor's size(12) does not match data length(6).",
		);
		await executor.close?.();
	});

	test.skipIf(!HAS_FULL_DATA)(
		"matches the TypeScript executor on all 891 training rows",
		async () => {
			const input = encodeRows(encode, readTitanicCsv(FULL_DATA));
			expect(input).toHaveLength(891 * 6);
			const executor = await createOnnxExecutor(bytes, entry, await backend);
			const typescript = typescriptExecutor(entry).predict(input, 891);
			expectAgreement(await predict(executor, input), typescript, EXECUTOR_TOLERANCE);
			await executor.close?.();
		},
	);

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
		test(`refuses a graph that does not match the manifest: ${name}`, async () => {
			await expect(
				createOnnxExecutor(bytes, { ...entry, ...change }, await backend),
			).rejects.toThrow(message);
		});
	}

	test("refuses bytes that are not an ONNX graph", async () => {
		await expect(
			createOnnxExecutor(new Uint8Array([1, 2, 3, 4]), entry, await backend),
		).rejects.toThrow();
	});
});
