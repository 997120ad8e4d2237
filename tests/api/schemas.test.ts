import { describe, expect, test } from "bun:test";
import { issuesOf } from "../../src/api/errors.ts";
import { BatchRequest, MAX_BATCH, Passenger } from "../../src/api/schemas.ts";

const valid = { Pclass: 3, Sex: "male" as const, Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };

function pathsOf(value: unknown, schema: typeof Passenger | typeof BatchRequest = Passenger) {
	const result = schema.safeParse(value);
	if (result.success) return [];
	return issuesOf(result.error).map((i) => i.path);
}

describe("Passenger", () => {
	test("accepts the reference request, and Age null or absent", () => {
		expect(Passenger.parse(valid)).toEqual(valid);
		expect(Passenger.parse({ ...valid, Age: null }).Age).toBeNull();
		const { Age: _, ...noAge } = valid;
		expect(Passenger.parse(noAge).Age).toBeUndefined();
	});

	test("accepts the edges of every range", () => {
		for (const edge of [
			{ Pclass: 1 },
			{ Pclass: 3 },
			{ Sex: "female" },
			{ Age: 120 },
			{ Age: 0.42 },
			{ SibSp: 0 },
			{ SibSp: 20 },
			{ Parch: 20 },
			{ Fare: 0 },
			{ Fare: 10000 },
		]) {
			expect(Passenger.safeParse({ ...valid, ...edge }).success).toBe(true);
		}
	});

	test("rejects each bad field with its own path", () => {
		const cases: [Record<string, unknown>, string][] = [
			[{ Pclass: 0 }, "Pclass"],
			[{ Pclass: 4 }, "Pclass"],
			[{ Pclass: 2.5 }, "Pclass"],
			[{ Pclass: "3" }, "Pclass"],
			[{ Sex: "Male" }, "Sex"],
			[{ Sex: "m" }, "Sex"],
			[{ Age: 0 }, "Age"],
			[{ Age: 120.5 }, "Age"],
			[{ Age: "22" }, "Age"],
			[{ SibSp: -1 }, "SibSp"],
			[{ SibSp: 21 }, "SibSp"],
			[{ Parch: 0.5 }, "Parch"],
			[{ Fare: -0.01 }, "Fare"],
			[{ Fare: 10000.01 }, "Fare"],
			[{ Fare: Number.POSITIVE_INFINITY }, "Fare"],
			[{ Fare: Number.NaN }, "Fare"],
			[{ Fare: null }, "Fare"],
		];
		for (const [change, path] of cases) {
			expect({ change, paths: pathsOf({ ...valid, ...change }) }).toEqual({
				change,
				paths: [path],
			});
		}
	});

	test("rejects unknown fields instead of imputing a misspelt one", () => {
		const { Age: _, ...noAge } = valid;
		expect(pathsOf({ ...noAge, age: 22 })).toEqual(["age"]);
	});

	test("lists every invalid and missing field at once", () => {
		expect(pathsOf({ Pclass: 9, Sex: "x", Age: -1 }).sort()).toEqual(
			["Age", "Fare", "Parch", "Pclass", "Sex", "SibSp"].sort(),
		);
		const missing = Passenger.safeParse({});
		expect(missing.success).toBe(false);
		expect(issuesOf(missing.error as never).find((i) => i.path === "Fare")?.message).toBe(
			"Fare is required",
		);
	});

	test("a non-object body is one issue at the root", () => {
		for (const value of [[], "x", 3, null, true]) expect(pathsOf(value)).toEqual([""]);
	});
});

describe("BatchRequest", () => {
	test("accepts 1 and MAX_BATCH instances, rejects 0 and MAX_BATCH + 1", () => {
		expect(BatchRequest.safeParse({ instances: [valid] }).success).toBe(true);
		expect(BatchRequest.safeParse({ instances: Array(MAX_BATCH).fill(valid) }).success).toBe(true);
		expect(pathsOf({ instances: [] }, BatchRequest)).toEqual(["instances"]);
		expect(pathsOf({ instances: Array(MAX_BATCH + 1).fill(valid) }, BatchRequest)).toEqual([
			"instances",
		]);
	});

	test("names the instance and field of each problem", () => {
		expect(pathsOf({ instances: [valid, { ...valid, Age: -3 }] }, BatchRequest)).toEqual([
			"instances.1.Age",
		]);
	});
});
