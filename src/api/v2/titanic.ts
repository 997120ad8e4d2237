import { FEATURES } from "../../inference/manifest.ts";
import { encodeRows, FEATURE_COUNT, type PassengerFeatures } from "../../inference/preprocess.ts";
import type { LoadedModel } from "../../inference/registry.ts";
import type { TensorModel } from "../../inference/tensor-model.ts";
import { type Tensor, TensorError, type TensorSpec } from "../../inference/tensors.ts";
import { issuesOf } from "../errors.ts";
import { Passenger } from "../schemas.ts";

/**
 * A Titanic variant over the Open Inference Protocol: the six raw passenger fields as one FP32
 * row each, in manifest order, with Sex as its manifest code; each row passes the typed API's
 * own Passenger schema, so both APIs accept exactly the same passengers.
 */

export const TITANIC_INPUT: TensorSpec = { name: "features", datatype: "FP32", shape: [-1, 6] };
export const TITANIC_OUTPUTS: readonly TensorSpec[] = [
	{ name: "probability", datatype: "FP32", shape: [-1] },
	{ name: "prediction", datatype: "INT64", shape: [-1] },
];

/** One row as the typed API's passenger, or the TensorError naming the row and field. */
function passengerAt(
	data: Float32Array,
	row: number,
	sexes: Map<number, string>,
): PassengerFeatures {
	const o = row * FEATURE_COUNT;
	const candidate: Record<string, unknown> = {};
	FEATURES.forEach((field, column) => {
		candidate[field] = data[o + column];
	});
	const sex = sexes.get(candidate.Sex as number);
	candidate.Sex = sex ?? candidate.Sex;
	const parsed = Passenger.safeParse(candidate);
	if (parsed.success && sex) return parsed.data;
	const issues = parsed.success ? [] : issuesOf(parsed.error);
	// An unknown Sex code is reported in the tensor's terms, not as the typed API's strings.
	const problems = issues.filter((i) => sex || i.path !== "Sex").map((i) => i.message);
	if (!sex)
		problems.unshift(`Sex must be ${[...sexes].map(([code, s]) => `${code} (${s})`).join(" or ")}`);
	throw new TensorError(`input "features": row ${row}: ${problems.join("; ")}`);
}

export function titanicTensorModel(model: LoadedModel): TensorModel {
	const sexes = new Map(Object.entries(model.info.preprocessing.sex).map(([s, code]) => [code, s]));
	return {
		name: model.id,
		platform: model.info.backend === "onnxruntime" ? "onnxruntime_onnx" : "typescript",
		inputs: [TITANIC_INPUT],
		outputs: TITANIC_OUTPUTS,
		async infer([features], names) {
			const rows = (features as Tensor).shape[0] as number;
			const data = (features as Tensor).data as Float32Array;
			const passengers = Array.from({ length: rows }, (_, row) => passengerAt(data, row, sexes));
			const input = encodeRows(model.encode, passengers);
			const { executor } = model;
			const probability = executor.async
				? await executor.predict(input, rows)
				: executor.predict(input, rows);
			const prediction = BigInt64Array.from(probability, (p) => (p >= 0.5 ? 1n : 0n));
			const all: Record<string, Tensor> = {
				probability: { name: "probability", datatype: "FP32", shape: [rows], data: probability },
				prediction: { name: "prediction", datatype: "INT64", shape: [rows], data: prediction },
			};
			return names.map((name) => all[name] as Tensor);
		},
	};
}
