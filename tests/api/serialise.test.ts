import { describe, expect, test } from "bun:test";
import { BATCH, ONE_PASSENGER } from "../../src/api/predict.ts";
import { serverTiming, threeDecimals } from "../../src/api/respond.ts";
import { MAX_BATCH } from "../../src/api/schemas.ts";
import { MODEL_IDS, type ModelId } from "../../src/inference/model-info.ts";
import { mulberry32 } from "../../src/train/random.ts";

/**
 * The answers are written from a template rather than by JSON.stringify of the answer object:
 * the text must be the same, byte for byte, for every float32 a model can give, the odd ones
 * (NaN, infinities, -0, denormals) included.
 */

/** Seeded (mulberry32), so a failing value is the same on every run. */
const prng = mulberry32;

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/** The float32 with these bits. */
const float32 = (pattern: number): number => {
	bits[0] = pattern >>> 0;
	return asFloat[0] as number;
};
const bitsOf = (value: number): number => {
	asFloat[0] = value;
	return bits[0] as number;
};

/** The float32 values around `value` (as a float32), `span` steps either way. */
function around(value: number, span: number): number[] {
	const centre = bitsOf(value);
	const out: number[] = [];
	for (let step = -span; step <= span; step++) out.push(float32(centre + step));
	return out;
}

const SPECIAL = [
	Number.NaN,
	-Number.NaN,
	float32(0x7fc00001), // a NaN with a payload
	float32(0xffffffff),
	Number.POSITIVE_INFINITY,
	Number.NEGATIVE_INFINITY,
	0,
	-0,
	1,
	-1,
	0.5,
	float32(0x00000001), // the smallest denormal
	float32(0x80000001),
	float32(0x007fffff), // the largest denormal
	float32(0x00800000), // the smallest normal
	float32(0x7f7fffff), // the largest finite
	float32(0xff7fffff),
	Math.fround(0.1),
	Math.fround(1 / 3),
	Math.fround(2 / 3),
	Math.fround(1e-7),
	Math.fround(1e-45),
	Math.fround(123456789),
	Math.fround(1e21), // where Number's text turns to exponent notation
	Math.fround(1e-6),
	Math.fround(1e-7),
];

/** Many float32 values: special ones, those near 0, 0.5 and 1, uniform ones and random bits. */
function float32Values(seed: number): number[] {
	const random = prng(seed);
	const values = [...SPECIAL, ...around(0.5, 64), ...around(1, 32), ...around(0, 32)];
	for (let i = 0; i < 4000; i++) values.push(Math.fround(random()));
	for (let i = 0; i < 2000; i++) values.push(Math.fround(0.5 + (random() - 0.5) * 1e-5));
	for (let i = 0; i < 2000; i++) values.push(Math.fround(random() ** 8)); // crowd near 0
	for (let i = 0; i < 4000; i++) values.push(float32(Math.floor(random() * 2 ** 32)));
	return values;
}

const VALUES = float32Values(2024);

describe("ONE_PASSENGER.serialise", () => {
	test("equals JSON.stringify of the answer for every float32, for every model", () => {
		expect(VALUES.length).toBeGreaterThan(12_000);
		let compared = 0;
		for (const model of MODEL_IDS) {
			for (const value of VALUES) {
				compared++;
				const probabilities = Float32Array.of(value);
				const expected = JSON.stringify(ONE_PASSENGER.answer(model, probabilities));
				const text = ONE_PASSENGER.serialise(model, probabilities);
				if (text !== expected) {
					// Named, so the failing value is in the report.
					expect({ model, bits: bitsOf(value).toString(16), text }).toEqual({
						model,
						bits: bitsOf(value).toString(16),
						text: expected,
					});
				}
			}
		}
		expect(compared).toBe(MODEL_IDS.length * VALUES.length);
	});

	test("the text is JSON, and reads back as the float32 the model gave", () => {
		for (const value of VALUES) {
			const text = ONE_PASSENGER.serialise("gbdt-ts", Float32Array.of(value));
			const parsed = JSON.parse(text) as {
				model: string;
				prediction: number;
				probability: unknown;
			};
			expect(Object.keys(parsed)).toEqual(["model", "prediction", "probability"]);
			if (Number.isFinite(value)) {
				// -0 is written 0, as JSON.stringify writes it.
				expect(parsed.probability).toBe(value === 0 ? 0 : value);
				expect(parsed.prediction).toBe(value >= 0.5 ? 1 : 0);
			} else {
				expect(parsed.probability).toBeNull();
				expect(parsed.prediction).toBe(value === Number.POSITIVE_INFINITY ? 1 : 0);
			}
		}
	});

	test("the boundary: 0.5 is survival, the float32 just below it is not", () => {
		const [below, half, above] = around(0.5, 1) as [number, number, number];
		const prediction = (value: number) =>
			(
				JSON.parse(ONE_PASSENGER.serialise("mlp-onnx", Float32Array.of(value))) as {
					prediction: number;
				}
			).prediction;
		expect([prediction(below), prediction(half), prediction(above)]).toEqual([0, 1, 1]);
	});

	test("no probability (an empty output) and extra outputs: as answer() does", () => {
		for (const probabilities of [new Float32Array(0), Float32Array.of(0.25, 0.75)]) {
			for (const model of MODEL_IDS) {
				expect(ONE_PASSENGER.serialise(model, probabilities)).toBe(
					JSON.stringify(ONE_PASSENGER.answer(model, probabilities)),
				);
			}
		}
		expect(ONE_PASSENGER.serialise("gbdt-ts", new Float32Array(0))).toBe(
			'{"model":"gbdt-ts","prediction":0,"probability":null}',
		);
	});

	test("a model id that needs escaping is escaped as JSON.stringify does", () => {
		for (const id of ['a"b', "a\\b", "line\nbreak", "é\u2028", ""]) {
			const model = id as ModelId;
			const probabilities = Float32Array.of(0.25);
			expect(ONE_PASSENGER.serialise(model, probabilities)).toBe(
				JSON.stringify(ONE_PASSENGER.answer(model, probabilities)),
			);
		}
	});
});

describe("BATCH.serialise", () => {
	test("equals JSON.stringify of the answer, batches of every float32 above", () => {
		const random = prng(99);
		const sizes = [0, 1, 2, 7, 64, MAX_BATCH];
		for (const model of MODEL_IDS) {
			for (const size of sizes) {
				const probabilities = Float32Array.from({ length: size }, () => {
					return VALUES[Math.floor(random() * VALUES.length)] as number;
				});
				expect(BATCH.serialise(model, probabilities)).toBe(
					JSON.stringify(BATCH.answer(model, probabilities)),
				);
			}
			// Every value at least once, in batches of the largest size.
			for (let start = 0; start < VALUES.length; start += MAX_BATCH) {
				const probabilities = Float32Array.from(VALUES.slice(start, start + MAX_BATCH));
				expect(BATCH.serialise(model, probabilities)).toBe(
					JSON.stringify(BATCH.answer(model, probabilities)),
				);
			}
		}
	});

	test("one prediction of a batch reads as the single answer's", () => {
		for (const value of VALUES.slice(0, 500)) {
			const single = JSON.parse(ONE_PASSENGER.serialise("gbdt-onnx", Float32Array.of(value)));
			const batch = JSON.parse(BATCH.serialise("gbdt-onnx", Float32Array.of(value)));
			expect(batch).toEqual({
				model: "gbdt-onnx",
				predictions: [{ prediction: single.prediction, probability: single.probability }],
			});
		}
	});
});

describe("Server-Timing's duration, written from integers", () => {
	/** toFixed(3)'s text as a number of thousandths, to compare two texts' values. */
	const thousandths = (text: string) => Math.round(Number(text) * 1000);

	test("the same text as toFixed(3), but on an exact half, where it is one thousandth away", () => {
		const random = prng(7);
		for (let i = 0; i < 20_000; i++) {
			const ms = random() * 10 ** (i % 6);
			const ours = threeDecimals(ms);
			expect(ours).toMatch(/^\d+\.\d{3}$/);
			const half = Math.abs((ms * 1000) % 1) - 0.5;
			if (Math.abs(half) > 1e-6) expect(ours).toBe(ms.toFixed(3));
			else expect(Math.abs(thousandths(ours) - thousandths(ms.toFixed(3)))).toBeLessThanOrEqual(1);
		}
	});

	test("edges: zero, sub-µs, whole numbers, and what is not a duration falls back to toFixed", () => {
		expect(threeDecimals(0)).toBe("0.000");
		expect(threeDecimals(0.0004)).toBe("0.000");
		expect(threeDecimals(0.012)).toBe("0.012");
		expect(threeDecimals(0.1)).toBe("0.100");
		expect(threeDecimals(7)).toBe("7.000");
		expect(threeDecimals(1234.5678)).toBe("1234.568");
		for (const odd of [-1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
			expect(threeDecimals(odd)).toBe(odd.toFixed(3));
		}
		expect(serverTiming(0.0123)).toEqual({ "server-timing": "infer;dur=0.012" });
	});
});
