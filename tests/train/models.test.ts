import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Manifest } from "../../src/inference/manifest.ts";
import { readTitanicCsv } from "../../src/train/csv.ts";
import { stratifiedSplit } from "../../src/train/split.ts";
import { explainSkip, FULL_DATA, HAS_FULL_DATA, HAS_MODELS, MODELS_DIR } from "./fixtures.ts";

const ready = HAS_FULL_DATA && HAS_MODELS;
explainSkip("the committed models/ checks");

const sha256 = (file: string): string =>
	createHash("sha256")
		.update(readFileSync(join(MODELS_DIR, file)))
		.digest("hex");
const readJson = (file: string): unknown =>
	JSON.parse(readFileSync(join(MODELS_DIR, file), "utf8"));

interface SplitFile {
	seed: number;
	testFraction: number;
	trainPassengerIds: number[];
	testPassengerIds: number[];
}

describe("committed models/", () => {
	test.skipIf(!HAS_MODELS)("the manifest parses and every sha256 matches its file", () => {
		const manifest = Manifest.parse(readJson("manifest.json"));
		for (const model of Object.values(manifest.models)) {
			expect(sha256(model.file)).toBe(model.sha256);
			expect(sha256(model.params.file)).toBe(model.params.sha256);
		}
		expect(sha256(manifest.split.ids.file)).toBe(manifest.split.ids.sha256);
	});

	test.skipIf(!ready)("the manifest describes this train.csv and its split", () => {
		const manifest = Manifest.parse(readJson("manifest.json"));
		expect(manifest.data.sha256).toBe(
			createHash("sha256").update(readFileSync(FULL_DATA)).digest("hex"),
		);
		expect(manifest.data.rows).toBe(891);
		const split = readJson(manifest.split.ids.file) as SplitFile;
		expect(split.trainPassengerIds).toHaveLength(manifest.split.trainRows);
		expect(split.testPassengerIds).toHaveLength(manifest.split.testRows);
		// The recorded ids are what the exported split function gives for the recorded seed.
		const passengers = readTitanicCsv(FULL_DATA);
		const again = stratifiedSplit(
			passengers.map((p) => p.survived),
			manifest.split.testFraction,
			manifest.split.seed,
		);
		expect(again.train.map((i) => passengers[i]?.passengerId)).toEqual(split.trainPassengerIds);
		expect(again.test.map((i) => passengers[i]?.passengerId)).toEqual(split.testPassengerIds);
		const survivedTest = split.testPassengerIds.filter(
			(id) => passengers.find((p) => p.passengerId === id)?.survived === 1,
		);
		expect(survivedTest).toHaveLength(103); // 30% of 342 survivors: stratified
	});

	test.skipIf(!ready)("the preprocessing constants are the training split's own statistics", () => {
		const manifest = Manifest.parse(readJson("manifest.json"));
		const { trainPassengerIds } = readJson(manifest.split.ids.file) as SplitFile;
		const trainIds = new Set(trainPassengerIds);
		// Computed here from the raw CSV columns, independently of the trainer's code.
		const [header = "", ...lines] = readFileSync(FULL_DATA, "utf8").trim().split("\n");
		const columns = header.split(",");
		const rows = lines.map((line) => {
			const cells = line.replace(/"[^"]*"/g, "name").split(",");
			const cell = (name: string): string => cells[columns.indexOf(name)] ?? "";
			return { id: Number(cell("PassengerId")), age: cell("Age"), fare: Number(cell("Fare")) };
		});
		const train = rows.filter((r) => trainIds.has(r.id));
		expect(train).toHaveLength(623);
		const known = train
			.filter((r) => r.age !== "")
			.map((r) => Number(r.age))
			.sort((a, b) => a - b);
		const half = known.length / 2;
		const median =
			known.length % 2
				? known[Math.floor(half)]
				: ((known[half - 1] ?? 0) + (known[half] ?? 0)) / 2;
		const ages = train.map((r) => (r.age === "" ? (median ?? 0) : Number(r.age)));
		const fares = train.map((r) => r.fare);
		const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
		const populationStd = (xs: number[]): number => {
			const m = mean(xs);
			return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
		};
		const pre = manifest.preprocessing;
		expect(pre.sex).toEqual({ female: 0, male: 1 });
		expect(pre.ageMedian).toBe(median ?? Number.NaN);
		expect(pre.scaler.Age.mean).toBeCloseTo(mean(ages), 10);
		expect(pre.scaler.Age.std).toBeCloseTo(populationStd(ages), 10);
		expect(pre.scaler.Fare.mean).toBeCloseTo(mean(fares), 10);
		expect(pre.scaler.Fare.std).toBeCloseTo(populationStd(fares), 10);
	});

	test.skipIf(!HAS_MODELS)(
		"both models meet the held-out targets (accuracy >= 0.79, ROC AUC >= 0.84)",
		() => {
			const manifest = Manifest.parse(readJson("manifest.json"));
			for (const model of Object.values(manifest.models)) {
				expect(model.metrics.holdout.accuracy).toBeGreaterThanOrEqual(0.79);
				expect(model.metrics.holdout.rocAuc).toBeGreaterThanOrEqual(0.84);
			}
		},
	);
});
