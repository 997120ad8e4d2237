import { afterAll, describe, expect, test } from "bun:test";
import { readTitanicCsv, TrainingDataError } from "../../src/train/csv.ts";
import { HEADER, removeTempDirs, smallTitanicCsv, writeTempCsv } from "./fixtures.ts";

afterAll(removeTempDirs);

describe("readTitanicCsv", () => {
	test("reads every passenger with typed fields; an empty Age is missing", () => {
		const { file } = writeTempCsv(smallTitanicCsv(30));
		const passengers = readTitanicCsv(file);
		expect(passengers).toHaveLength(30);
		const seventh = passengers[6];
		expect(seventh?.passengerId).toBe(7);
		expect(seventh?.Age).toBeNull();
		for (const p of passengers) {
			expect([1, 2, 3]).toContain(p.Pclass);
			expect(["male", "female"]).toContain(p.Sex);
			expect([0, 1]).toContain(p.survived);
			expect(Number.isFinite(p.Fare)).toBe(true);
		}
	});

	test("keeps quoted names with commas from shifting the columns", () => {
		const { file } = writeTempCsv(
			`${HEADER}\n1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n`,
		);
		expect(readTitanicCsv(file)).toEqual([
			{
				passengerId: 1,
				survived: 0,
				Pclass: 3,
				Sex: "male",
				Age: 22,
				SibSp: 1,
				Parch: 0,
				Fare: 7.25,
			},
		]);
	});

	const errorOf = (text: string): string => {
		const { file } = writeTempCsv(text);
		try {
			readTitanicCsv(file);
		} catch (error) {
			expect(error).toBeInstanceOf(TrainingDataError);
			return (error as Error).message.replace(file, "FILE");
		}
		throw new Error("expected readTitanicCsv to fail");
	};

	test("names the line and column of a value that is not a number", () => {
		const lines = smallTitanicCsv(20).split("\n");
		lines[16] = lines[16]?.replace(/,S$/, "").replace(/,[^,]*,$/, ",abc,,S") ?? "";
		expect(errorOf(lines.join("\n"))).toBe('FILE line 17, column Fare: "abc" is not a number');
	});

	test("rejects a Pclass outside 1-3 and a Sex outside male/female", () => {
		expect(errorOf(`${HEADER}\n1,0,x,"A",male,22,1,0,T,7.25,,S\n`)).toBe(
			'FILE line 2, column Pclass: "x" is not a number',
		);
		expect(errorOf(`${HEADER}\n1,0,4,"A",male,22,1,0,T,7.25,,S\n`)).toBe(
			"FILE line 2, column Pclass: 4 is not one of 1, 2, 3",
		);
		expect(errorOf(`${HEADER}\n1,0,3,"A",other,22,1,0,T,7.25,,S\n`)).toBe(
			'FILE line 2, column Sex: "other" is not male or female',
		);
	});

	test("names a column missing from the header", () => {
		const text = smallTitanicCsv(5).replace("Fare,", "Price,");
		expect(errorOf(text)).toBe("FILE line 1, column Fare: missing from the header");
	});

	test("reports a missing file", () => {
		expect(() => readTitanicCsv("/nonexistent/train.csv")).toThrow(
			"/nonexistent/train.csv: no such file",
		);
	});
});
