import { FEATURES, type ModelEntry, type Preprocessing } from "./manifest.ts";

/** The six raw passenger fields, after validation. A missing Age is null or absent. */
export interface PassengerFeatures {
	Pclass: number;
	Sex: "male" | "female";
	Age?: number | null;
	SibSp: number;
	Parch: number;
	Fare: number;
}

export const FEATURE_COUNT = FEATURES.length;

/** Writes one passenger's model input into `out` at row `row`, in FEATURES order. */
export type RowEncoder = (passenger: PassengerFeatures, out: Float32Array, row: number) => void;

/**
 * Builds the encoder for one model from the manifest's fitted constants, so training and serving
 * share one definition of the features. Trees get raw values (Age imputed); the net gets Age and
 * Fare standardised.
 */
export function createRowEncoder(pre: Preprocessing, scaling: ModelEntry["scaling"]): RowEncoder {
	const sexCode = pre.sex;
	const ageMedian = pre.ageMedian;
	const standardise = scaling === "standard";
	const { mean: ageMean, std: ageStd } = pre.scaler.Age;
	const { mean: fareMean, std: fareStd } = pre.scaler.Fare;
	return (p, out, row) => {
		const age = p.Age ?? ageMedian;
		const o = row * FEATURE_COUNT;
		out[o] = p.Pclass;
		out[o + 1] = sexCode[p.Sex];
		out[o + 2] = standardise ? (age - ageMean) / ageStd : age;
		out[o + 3] = p.SibSp;
		out[o + 4] = p.Parch;
		out[o + 5] = standardise ? (p.Fare - fareMean) / fareStd : p.Fare;
	};
}

/** Encodes many passengers into one [N, 6] float32 batch. */
export function encodeRows(
	encode: RowEncoder,
	passengers: readonly PassengerFeatures[],
): Float32Array {
	const out = new Float32Array(passengers.length * FEATURE_COUNT);
	for (let i = 0; i < passengers.length; i++) encode(passengers[i] as PassengerFeatures, out, i);
	return out;
}
