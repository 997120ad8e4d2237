import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const NODE = join(PROJECT_ROOT, "node_modules/.bin/node");
export const TRAIN_CLI = join(PROJECT_ROOT, "src/train/cli.ts");

/** Kaggle's train.csv lives beside the project (../shared), never in it. */
export const FULL_DATA = fileURLToPath(
	new URL("../../../shared/data/titanic/train.csv", import.meta.url),
);
export const HAS_FULL_DATA = existsSync(FULL_DATA);
export const MODELS_DIR = join(PROJECT_ROOT, "models");
export const HAS_MODELS = existsSync(join(MODELS_DIR, "manifest.json"));

export function explainSkip(what: string): void {
	if (!HAS_FULL_DATA) console.log(`skipping ${what}: ${FULL_DATA} is absent`);
	else if (!HAS_MODELS)
		console.log(`skipping ${what}: ${MODELS_DIR}/manifest.json is absent (run npm run train)`);
}

export const HEADER =
	"PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked";

/**
 * A small train.csv in Kaggle's layout with a learnable rule: women and children (Age < 12)
 * survive, everyone else does not, except that every 11th passenger breaks the rule. Every 7th
 * Age is missing. The values come from a fixed linear congruential sequence.
 */
export function smallTitanicCsv(rows = 120): string {
	let state = 12345;
	const next = (): number => {
		state = (state * 1103515245 + 12345) % 2147483648;
		return state / 2147483648;
	};
	const lines = [HEADER];
	for (let id = 1; id <= rows; id++) {
		const female = next() < 0.4;
		const age = Math.round(1 + next() * 70);
		const pclass = 1 + Math.floor(next() * 3);
		const sibsp = Math.floor(next() * 3);
		const parch = Math.floor(next() * 3);
		const fare = Math.round((5 + (next() * 80) / pclass) * 100) / 100;
		const rule = female || age < 12 ? 1 : 0;
		const survived = id % 11 === 0 ? 1 - rule : rule;
		const ageField = id % 7 === 0 ? "" : String(age);
		lines.push(
			`${id},${survived},${pclass},"Doe, Passenger ${id}",${female ? "female" : "male"},${ageField},${sibsp},${parch},T${id},${fare},,S`,
		);
	}
	return `${lines.join("\n")}\n`;
}

const tempDirs: string[] = [];

/** Removes every folder writeTempCsv made; test files call it from afterAll. */
export function removeTempDirs(): void {
	for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh temporary folder holding `train.csv` with the given text, see removeTempDirs. */
export function writeTempCsv(text: string): { dir: string; file: string } {
	const dir = mkdtempSync(join(tmpdir(), "titanic-train-"));
	tempDirs.push(dir);
	const file = join(dir, "train.csv");
	writeFileSync(file, text);
	return { dir, file };
}
