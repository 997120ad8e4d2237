import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { type Accepts, compileAccepts } from "../../src/api/accept.ts";
import { BATCH, ONE_PASSENGER, validated } from "../../src/api/predict.ts";
import { BatchRequest, MAX_BATCH, Passenger } from "../../src/api/schemas.ts";
import { mulberry32 } from "../../src/train/random.ts";

/**
 * The fast path of validation, compileAccepts, checked against zod itself: over many generated
 * values, valid and subtly not, it may only ever accept what zod accepts (and what it accepts
 * must be zod's own output, since validated() returns it as is). It must also take the usual
 * valid bodies, or it is no fast path; and where a schema has JSON Schema it does not know, it
 * must not compile at all.
 */

/** Seeded (mulberry32), so a failing value is the same on every run. */
const prng = mulberry32;

type Random = () => number;
const int = (random: Random, min: number, max: number) =>
	min + Math.floor(random() * (max - min + 1));
const pick = <T>(random: Random, list: readonly T[]): T =>
	list[int(random, 0, list.length - 1)] as T;

const FIELDS = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare"] as const;
type Field = (typeof FIELDS)[number];

/** Valid passengers that must all take the fast path: the examples and every boundary. */
const CANONICAL: Record<string, unknown>[] = [
	{ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 },
	{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
	{ Pclass: 1, Sex: "female", Age: 30, SibSp: 0, Parch: 0, Fare: 80 },
	{ Pclass: 2, Sex: "male", Age: null, SibSp: 0, Parch: 0, Fare: 13 },
	{ Pclass: 2, Sex: "female", SibSp: 0, Parch: 2, Fare: 26 },
	{ Pclass: 1, Sex: "male", Age: 120, SibSp: 20, Parch: 20, Fare: 10000 },
	{ Pclass: 3, Sex: "female", Age: 0.42, SibSp: 0, Parch: 0, Fare: 0 },
	{ Pclass: 3, Sex: "male", Age: Number.MIN_VALUE, SibSp: 0, Parch: 0, Fare: -0 },
	{ Pclass: 3.0, Sex: "male", Age: 1e-300, SibSp: 0.0, Parch: 20.0, Fare: 9999.999999 },
	// Key order is the client's.
	{ Fare: 7.25, Parch: 0, SibSp: 1, Age: 22, Sex: "male", Pclass: 3 },
	{ Sex: "female", Fare: 512.3292, Pclass: 1, Parch: 1, SibSp: 0 },
];

/** A random valid passenger; about one in five without Age, one in five with Age null. */
function validPassenger(random: Random): Record<string, unknown> {
	const passenger: Record<string, unknown> = {
		Pclass: int(random, 1, 3),
		Sex: pick(random, ["male", "female"]),
		SibSp: int(random, 0, 20),
		Parch: int(random, 0, 20),
		Fare: pick(random, [0, 10000, Math.round(random() * 1e6) / 100, random() * 10000]),
	};
	const age = random();
	if (age < 0.2) passenger.Age = null;
	else if (age < 0.4) {
		// absent
	} else passenger.Age = pick(random, [120, 0.5, int(random, 1, 120), (1 - random()) * 120]);
	// Shuffle the key order now and then.
	if (random() < 0.3) {
		const entries = Object.entries(passenger).sort(() => random() - 0.5);
		return Object.fromEntries(entries);
	}
	return passenger;
}

/**
 * Values that are wrong for some field, or right only at the edge. 1e309 and -1e309 are read from
 * JSON text, as the server reads them: Infinity.
 */
const FROM_JSON = JSON.parse("[1e309, -1e309, -0, 1e-400, 5e-324]") as number[];
const FIELD_VALUES: readonly unknown[] = [
	...FROM_JSON,
	0,
	-0,
	1,
	2,
	3,
	4,
	-1,
	0.5,
	2.5,
	3.0000000001,
	0.9999999999,
	20,
	20.5,
	21,
	119.9999,
	120,
	120.0001,
	9999,
	10000,
	10000.0001,
	2 ** 31,
	2 ** 53,
	2 ** 53 + 2,
	-(2 ** 53),
	Number.MAX_SAFE_INTEGER,
	Number.MAX_VALUE,
	Number.MIN_VALUE,
	Number.EPSILON,
	Number.NaN,
	Number.POSITIVE_INFINITY,
	Number.NEGATIVE_INFINITY,
	"3",
	"1",
	"22",
	"7.25",
	"",
	"male",
	"female",
	"MALE",
	"Female",
	" male",
	"male\u0000",
	"null",
	null,
	true,
	false,
	[],
	[3],
	["male"],
	{},
	{ value: 3 },
	{ Pclass: 3 },
	undefined,
];

/** Keys that are not fields: misspellings, and names an object's prototype carries. */
const EXTRA_KEYS = [
	"age",
	"pclass",
	"Pclass ",
	"",
	"__proto__",
	"constructor",
	"toString",
	"hasOwnProperty",
	"valueOf",
	"prototype",
	"0",
];

/**
 * Everything derived from `base`: each field set to each odd value, each field removed, each
 * extra key added. Extra keys are added through JSON text, so "__proto__" becomes an own key as
 * JSON.parse makes it, not the object's prototype.
 */
function* mutations(base: Record<string, unknown>): Generator<unknown> {
	for (const field of FIELDS) {
		for (const value of FIELD_VALUES) yield { ...base, [field]: value };
		const { [field]: _, ...without } = base;
		yield without;
	}
	const text = JSON.stringify(base);
	for (const key of EXTRA_KEYS) {
		for (const value of ["3", "null", "{}", '{"Pclass":3}', "[]"]) {
			yield JSON.parse(`${text.slice(0, -1)},${JSON.stringify(key)}:${value}}`);
			yield JSON.parse(`{${JSON.stringify(key)}:${value},${text.slice(1)}`);
		}
	}
	// A duplicate key in JSON text: the last one wins, as JSON.parse reads it.
	yield JSON.parse(`${text.slice(0, -1)},"Pclass":9}`);
	yield JSON.parse(`${text.slice(0, -1)},"Pclass":"3"}`);
	// The fields inherited, not own; and an object with no prototype at all.
	yield Object.create(base);
	yield Object.assign(Object.create(null), base);
	yield Object.assign(Object.create({ Age: 3 }), base);
	yield Object.assign(Object.create({ extra: 3 }), base);
	// Not objects at all.
	yield [base];
	yield [];
	yield text;
	yield JSON.stringify({ instances: [base] });
}

/** Values that are neither passengers nor batches nor anything near. */
const NOT_OBJECTS: readonly unknown[] = [
	null,
	undefined,
	0,
	1,
	"",
	"{}",
	true,
	[],
	[{}],
	{},
	Number.NaN,
	JSON.parse('{"__proto__":{"Pclass":3,"Sex":"male","SibSp":0,"Parch":0,"Fare":1}}'),
	JSON.parse('{"constructor":{"prototype":{"Pclass":3}}}'),
	new Date(0),
	new Map(),
	() => {},
	Symbol("x"),
	10n,
];

/** Every generated value goes through this: accepted means zod accepts it, unchanged. */
function differential(
	accepts: Accepts,
	schema: z.ZodType,
	values: Iterable<unknown>,
): { accepted: number; valid: number; validAccepted: number; total: number } {
	let accepted = 0;
	let valid = 0;
	let validAccepted = 0;
	let total = 0;
	for (const value of values) {
		total++;
		const fast = accepts(value);
		const parsed = schema.safeParse(value);
		if (fast) {
			accepted++;
			// The failing value in the message, so a failure names it.
			expect({ value, zod: parsed.success }).toEqual({ value, zod: true });
			// validated() returns the value itself: zod must not have changed it.
			if (parsed.success) expect(parsed.data).toEqual(value);
		}
		if (parsed.success) {
			valid++;
			if (fast) validAccepted++;
		}
	}
	return { accepted, valid, validAccepted, total };
}

const passengerAccepts = compileAccepts(Passenger);
const batchAccepts = compileAccepts(BatchRequest);

function required(check: Accepts | null): Accepts {
	if (!check) throw new Error("expected the schema to compile");
	return check;
}

/** The passengers of the differential test: canonical, random and each one's mutations. */
function* passengerValues(seed: number, count: number): Generator<unknown> {
	const random = prng(seed);
	yield* CANONICAL;
	yield* NOT_OBJECTS;
	for (const base of CANONICAL) yield* mutations(base);
	for (let i = 0; i < count; i++) {
		const passenger = validPassenger(random);
		yield passenger;
		// The same passenger as the server would see it: through JSON text.
		yield JSON.parse(JSON.stringify(passenger));
		// A few random mutations of it, rather than all of them, to keep the run short.
		const all = [...mutations(passenger)];
		for (let j = 0; j < 8; j++) yield pick(random, all);
	}
}

describe("compileAccepts: the service's schemas", () => {
	test("both compile, and predict.ts uses them", () => {
		expect(passengerAccepts).toBeFunction();
		expect(batchAccepts).toBeFunction();
		expect(ONE_PASSENGER.accepts).toBeFunction();
		expect(BATCH.accepts).toBeFunction();
	});

	test("every canonical valid passenger is accepted, as is and through JSON", () => {
		const accepts = required(passengerAccepts);
		for (const passenger of CANONICAL) {
			expect(Passenger.safeParse(passenger).success).toBe(true);
			expect({ passenger, accepted: accepts(passenger) }).toEqual({ passenger, accepted: true });
			const parsed = JSON.parse(JSON.stringify(passenger));
			expect({ parsed, accepted: accepts(parsed) }).toEqual({ parsed, accepted: true });
		}
	});

	test("Passenger: never accepts what zod rejects, over many generated values", () => {
		const accepts = required(passengerAccepts);
		const result = differential(accepts, Passenger, passengerValues(0x5eed, 2000));
		expect(result.total).toBeGreaterThan(20_000);
		// The generator makes both kinds in quantity.
		expect(result.valid).toBeGreaterThan(5_000);
		expect(result.total - result.valid).toBeGreaterThan(10_000);
		// A fast path in name only would pass the test above: most valid values must take it.
		expect(result.validAccepted / result.valid).toBeGreaterThan(0.95);
	});

	test("random valid passengers read from JSON text all take the fast path", () => {
		const accepts = required(passengerAccepts);
		const random = prng(42);
		for (let i = 0; i < 5000; i++) {
			const passenger = JSON.parse(JSON.stringify(validPassenger(random)));
			expect(Passenger.safeParse(passenger).success).toBe(true);
			expect({ passenger, accepted: accepts(passenger) }).toEqual({ passenger, accepted: true });
		}
	});

	test("the edges, one by one", () => {
		const accepts = required(passengerAccepts);
		const base = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
		const cases: [Field, unknown, boolean][] = [
			["Pclass", 0, false],
			["Pclass", 1, true],
			["Pclass", 3, true],
			["Pclass", 4, false],
			["Pclass", 2.5, false],
			["Pclass", "3", false],
			["Pclass", null, false],
			["Pclass", 2 ** 53, false],
			["Age", 0, false],
			["Age", -0, false],
			["Age", Number.MIN_VALUE, true],
			["Age", 120, true],
			["Age", 120.0001, false],
			["Age", null, true],
			["Age", undefined, false],
			["Age", JSON.parse("1e309"), false],
			["Age", "22", false],
			["SibSp", 20, true],
			["SibSp", 21, false],
			["SibSp", -1, false],
			["SibSp", 0.5, false],
			["Parch", -0, true],
			["Fare", 0, true],
			["Fare", -0, true],
			["Fare", 10000, true],
			["Fare", 10000.0001, false],
			["Fare", JSON.parse("1e309"), false],
			["Fare", Number.NaN, false],
			["Sex", "MALE", false],
			["Sex", ["male"], false],
		];
		for (const [field, value, expected] of cases) {
			const passenger = { ...base, [field]: value };
			// `expected` is what the fast path answers; where it says no, zod still decides.
			expect({ field, value, accepted: accepts(passenger) }).toEqual({
				field,
				value,
				accepted: expected,
			});
			if (expected) expect(Passenger.safeParse(passenger).success).toBe(true);
		}
		// Age explicitly undefined is valid for zod, but not JSON: the fast path may pass on it.
		expect(Passenger.safeParse({ ...base, Age: undefined }).success).toBe(true);
	});

	test("missing fields, extra keys and prototype keys are never accepted", () => {
		const accepts = required(passengerAccepts);
		const base = CANONICAL[0] as Record<string, unknown>;
		for (const field of ["Pclass", "Sex", "SibSp", "Parch", "Fare"]) {
			const { [field]: _, ...without } = base;
			expect({ field, accepted: accepts(without) }).toEqual({ field, accepted: false });
		}
		const text = JSON.stringify(base);
		for (const key of EXTRA_KEYS) {
			const value = JSON.parse(`${text.slice(0, -1)},${JSON.stringify(key)}:1}`);
			expect(Object.hasOwn(value, key)).toBe(true);
			expect({ key, accepted: accepts(value) }).toEqual({ key, accepted: false });
		}
		// Fields inherited from a prototype are not the body's own.
		expect(accepts(Object.create(base))).toBe(false);
	});

	test("BatchRequest: never accepts what zod rejects; sizes 0, 1, 1000, 1001; one bad among good", () => {
		const accepts = required(batchAccepts);
		const random = prng(7);
		const good = (n: number) => Array.from({ length: n }, () => validPassenger(random));
		const batches: unknown[] = [];
		for (const size of [0, 1, 2, MAX_BATCH - 1, MAX_BATCH, MAX_BATCH + 1, 5000]) {
			batches.push({ instances: good(size) });
			batches.push(JSON.parse(JSON.stringify({ instances: good(size) })));
		}
		// One bad instance among good ones, at the start, middle and end.
		const bad = [...mutations(CANONICAL[0] as Record<string, unknown>)].filter(
			(value) => !Passenger.safeParse(value).success,
		);
		expect(bad.length).toBeGreaterThan(300);
		for (const [i, value] of bad.entries()) {
			const instances: unknown[] = good(i % 3 === 0 ? 1 : 5);
			const at = [0, instances.length >> 1, instances.length][i % 3] as number;
			instances.splice(at, 0, value);
			batches.push({ instances });
		}
		const full = good(MAX_BATCH - 1);
		batches.push({ instances: [...full, bad[0]] });
		batches.push({ instances: [bad[1], ...full] });
		// Not batches: wrong shapes around valid instances.
		const one = good(1);
		batches.push(
			...NOT_OBJECTS,
			one,
			one[0],
			{ instances: one[0] },
			{ instances: { 0: one[0], length: 1 } },
			{ instances: null },
			{ instances: "[]" },
			{ instances: [one] },
			{ instances: [[one[0]]] },
			{ instances: one, extra: 1 },
			{ Instances: one },
			{},
			JSON.parse(`{"instances":${JSON.stringify(one)},"__proto__":{}}`),
			JSON.parse(`{"instances":${JSON.stringify(one)},"constructor":1}`),
			{ instances: [one[0], null, one[0]] },
			{ instances: [one[0], undefined, one[0]] },
		);
		const result = differential(accepts, BatchRequest, batches);
		expect(result.valid).toBe(8);
		// Every valid batch takes the fast path, the full one included.
		expect(result.validAccepted).toBe(8);
		expect(accepts({ instances: good(MAX_BATCH) })).toBe(true);
		expect(accepts({ instances: good(MAX_BATCH + 1) })).toBe(false);
		expect(accepts({ instances: [] })).toBe(false);
	});

	test("validated(): the fast path gives the same value as zod, and zod still words errors", () => {
		for (const passenger of CANONICAL) {
			expect(validated(ONE_PASSENGER, passenger)).toEqual(Passenger.parse(passenger));
		}
		const batch = { instances: CANONICAL };
		expect(validated(BATCH, batch)).toEqual(BatchRequest.parse(batch));
		expect(() => validated(ONE_PASSENGER, { ...CANONICAL[0], Pclass: 4 })).toThrow(
			"1 invalid field(s)",
		);
	});
});

describe("compileAccepts: other schemas", () => {
	test("JSON Schema it does not know: null, so zod decides alone", () => {
		const unknown: [string, z.ZodType][] = [
			["a string format", z.object({ a: z.string().email() })],
			["a strict object with a string format", z.strictObject({ a: z.string().email() })],
			["a non-strict object", z.object({ a: z.number() })],
			["a loose object", z.looseObject({ a: z.number() })],
			["a catchall", z.strictObject({ a: z.number() }).catchall(z.number())],
			["multipleOf", z.strictObject({ a: z.number().multipleOf(2) })],
			["any string", z.strictObject({ a: z.string() })],
			["a string length", z.strictObject({ a: z.string().min(2) })],
			["a literal", z.strictObject({ a: z.literal(3) })],
			["a default", z.strictObject({ a: z.number().default(3) })],
			["a tuple", z.strictObject({ a: z.tuple([z.number()]) })],
			["nullish (a type list)", z.strictObject({ a: z.number().nullish() })],
			["any", z.strictObject({ a: z.any() })],
			["unknown", z.strictObject({ a: z.unknown() })],
			["a boolean", z.strictObject({ a: z.boolean() })],
			["a record", z.record(z.string(), z.number())],
			["a bare number", z.number().describe("described")],
		];
		for (const [name, schema] of unknown) {
			expect({ name, compiled: compileAccepts(schema) }).toEqual({ name, compiled: null });
		}
	});

	test("a changed schema changes the check: Pclass at most 2 refuses 3", () => {
		const changed = Passenger.extend({ Pclass: z.number().int().min(1).max(2) });
		const accepts = required(compileAccepts(changed));
		const base = CANONICAL[0] as Record<string, unknown>;
		expect(accepts({ ...base, Pclass: 3 })).toBe(false);
		expect(accepts({ ...base, Pclass: 2 })).toBe(true);
		expect(required(passengerAccepts)({ ...base, Pclass: 3 })).toBe(true);
	});

	test("changed schemas: never accepts what zod rejects", () => {
		const changed: [string, z.ZodType][] = [
			["Pclass at most 2", Passenger.extend({ Pclass: z.number().int().min(1).max(2) })],
			["Age required", Passenger.extend({ Age: z.number().gt(0).lte(120) })],
			["Age not nullable", Passenger.extend({ Age: z.number().gt(0).lte(120).optional() })],
			["Fare below 100", Passenger.extend({ Fare: z.number().min(0).lt(100) })],
			["Fare above 5", Passenger.extend({ Fare: z.number().gt(5) })],
			["Sex with a third value", Passenger.extend({ Sex: z.enum(["male", "female", "MALE"]) })],
			["SibSp any integer", Passenger.extend({ SibSp: z.number().int() })],
			["Parch nullable", Passenger.extend({ Parch: z.number().int().min(0).nullable() })],
			["no Age", Passenger.omit({ Age: true })],
			["Pclass as a union", Passenger.extend({ Pclass: z.union([z.literal(1), z.number()]) })],
		];
		for (const [name, schema] of changed) {
			const accepts = compileAccepts(schema);
			if (!accepts) continue; // zod alone: nothing to check
			const result = differential(accepts, schema, passengerValues(name.length, 300));
			expect({ name, accepted: result.accepted > 0 }).toEqual({ name, accepted: true });
		}
		// The strict, simple ones must compile: the fast path survives an ordinary schema change.
		for (const [name, schema] of changed.slice(0, 9)) {
			expect({ name, compiled: compileAccepts(schema) !== null }).toEqual({
				name,
				compiled: true,
			});
		}
	});
});

/**
 * What JSON Schema cannot say: a sparse array's holes, refinements, transforms, pipes. The fast
 * path must never take a value zod refuses, nor hand back a value zod would have changed.
 */
describe("compileAccepts: what JSON Schema leaves out", () => {
	test("a sparse array's holes are skipped by Array.prototype.every", () => {
		const accepts = required(batchAccepts);
		const passenger = CANONICAL[0];
		const sparse = { instances: Object.assign(new Array(3), { 0: passenger, 2: passenger }) };
		expect(BatchRequest.safeParse(sparse).success).toBe(false);
		expect(accepts(sparse)).toBe(false);
	});

	test("refinements, pipes and preprocessing leave no trace in JSON Schema", () => {
		const hidden: [string, z.ZodType][] = [
			["refine on the object", z.strictObject({ a: z.number() }).refine((v) => v.a > 5)],
			["refine on a field", z.strictObject({ a: z.number().refine((v) => v > 5) })],
			[
				"superRefine",
				z
					.strictObject({ a: z.number() })
					.superRefine((_, ctx) => ctx.addIssue({ code: "custom", message: "no" })),
			],
			["a pipe", z.strictObject({ a: z.number().pipe(z.number().max(0)) })],
			["preprocess", z.strictObject({ a: z.preprocess(() => -1, z.number().min(0)) })],
		];
		for (const [name, schema] of hidden) {
			expect({ name, zod: schema.safeParse({ a: 1 }).success }).toEqual({ name, zod: false });
			expect({ name, compiled: compileAccepts(schema) }).toEqual({ name, compiled: null });
		}
	});

	test("a transform: the fast path would hand on the value zod would have changed", () => {
		const schema = z.strictObject({ a: z.number().transform((v) => v * 2) });
		expect(schema.parse({ a: 1 })).toEqual({ a: 2 });
		expect(compileAccepts(schema)).toBeNull();
	});
});
