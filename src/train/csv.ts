import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import type { PassengerFeatures } from "../inference/preprocess.ts";

/** A passenger of Kaggle's train.csv with its label. */
export interface LabelledPassenger extends PassengerFeatures {
	passengerId: number;
	survived: 0 | 1;
}

/**
 * A problem with the training data that the user can fix. Its message is the whole one-line
 * report, naming the file, and the line and column when there is one.
 */
export class TrainingDataError extends Error {
	override name = "TrainingDataError";
}

const REQUIRED_COLUMNS = [
	"PassengerId",
	"Survived",
	"Pclass",
	"Sex",
	"Age",
	"SibSp",
	"Parch",
	"Fare",
] as const;
type RequiredColumn = (typeof REQUIRED_COLUMNS)[number];

interface ParsedRecord {
	record: string[];
	info: { lines: number };
}

/** Reads Kaggle's Titanic train.csv. An empty Age is a missing age; anything else malformed is an error. */
export function readTitanicCsv(file: string): LabelledPassenger[] {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (error) {
		const reason =
			(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
		throw new TrainingDataError(`${file}: ${reason}`);
	}
	let records: ParsedRecord[];
	try {
		records = parse(text, {
			info: true,
			bom: true,
			skip_empty_lines: true,
		}) as unknown as ParsedRecord[];
	} catch (error) {
		const line = (error as { lines?: number }).lines;
		const message = (error as Error).message.split("\n")[0];
		throw new TrainingDataError(`${file}${line === undefined ? "" : ` line ${line}`}: ${message}`);
	}
	const header = records[0]?.record;
	if (header === undefined) throw new TrainingDataError(`${file}: the file is empty`);
	const columnIndex = new Map<RequiredColumn, number>();
	for (const column of REQUIRED_COLUMNS) {
		const index = header.indexOf(column);
		if (index < 0)
			throw new TrainingDataError(`${file} line 1, column ${column}: missing from the header`);
		columnIndex.set(column, index);
	}
	const passengers = records.slice(1).map(({ record, info }) => {
		const field = (column: RequiredColumn): string =>
			(record[columnIndex.get(column) ?? -1] ?? "").trim();
		const fail = (column: RequiredColumn, problem: string): never => {
			throw new TrainingDataError(`${file} line ${info.lines}, column ${column}: ${problem}`);
		};
		const number = (column: RequiredColumn): number => {
			const raw = field(column);
			const value = Number(raw);
			if (raw === "" || !Number.isFinite(value))
				fail(column, `${JSON.stringify(raw)} is not a number`);
			return value;
		};
		const oneOf = <T extends number>(column: RequiredColumn, allowed: readonly T[]): T => {
			const value = number(column);
			if (!allowed.includes(value as T))
				fail(column, `${value} is not one of ${allowed.join(", ")}`);
			return value as T;
		};
		const nonNegative = (column: RequiredColumn): number => {
			const value = number(column);
			if (value < 0) fail(column, `${value} is negative`);
			return value;
		};
		const sex = field("Sex");
		if (sex !== "male" && sex !== "female")
			fail("Sex", `${JSON.stringify(sex)} is not male or female`);
		const passenger: LabelledPassenger = {
			passengerId: number("PassengerId"),
			survived: oneOf("Survived", [0, 1] as const),
			Pclass: oneOf("Pclass", [1, 2, 3] as const),
			Sex: sex as "male" | "female",
			Age: field("Age") === "" ? null : nonNegative("Age"),
			SibSp: nonNegative("SibSp"),
			Parch: nonNegative("Parch"),
			Fare: nonNegative("Fare"),
		};
		return passenger;
	});
	if (passengers.length === 0)
		throw new TrainingDataError(`${file}: no passengers after the header`);
	return passengers;
}
