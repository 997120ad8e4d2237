import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Manifest } from "../../src/inference/manifest.ts";
import {
	NODE,
	PROJECT_ROOT,
	removeTempDirs,
	smallTitanicCsv,
	TRAIN_CLI,
	writeTempCsv,
} from "./fixtures.ts";

afterAll(removeTempDirs);
// Each test spawns Node once or twice: seconds on a slow or loaded machine, so not bun's 5 s.
setDefaultTimeout(30_000);

function train(data: string, out: string) {
	const run = spawnSync(NODE, [TRAIN_CLI, "--data", data, "--out", out], {
		cwd: PROJECT_ROOT,
		encoding: "utf8",
	});
	return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const filesOf = (dir: string): Record<string, string> =>
	Object.fromEntries(
		readdirSync(dir)
			.sort()
			.map((name) => [name, readFileSync(join(dir, name)).toString("base64")]),
	);

describe("npm run train (node src/train/cli.ts)", () => {
	const { dir, file } = writeTempCsv(smallTitanicCsv(120));

	test("writes the models, a valid manifest and a metrics table; twice gives identical bytes", () => {
		const first = train(file, join(dir, "models-a"));
		expect(first.stderr).toBe("");
		expect(first.status).toBe(0);
		expect(first.stdout).toMatch(/^mlp\s+0\.\d{4}\s+0\.\d{4}\s+\d\.\d{4}\s+0\.\d{4} ± /m);
		expect(first.stdout).toMatch(/^gbdt\s+0\.\d{4}/m);
		const second = train(file, join(dir, "models-b"));
		expect(second.status).toBe(0);

		const a = filesOf(join(dir, "models-a"));
		expect(Object.keys(a)).toEqual([
			"gbdt.json",
			"gbdt.onnx",
			"manifest.json",
			"mlp.json",
			"mlp.onnx",
			"split.json",
		]);
		expect(filesOf(join(dir, "models-b"))).toEqual(a);
		const manifest = Manifest.parse(
			JSON.parse(readFileSync(join(dir, "models-a/manifest.json"), "utf8")),
		);
		expect(manifest.data.rows).toBe(120);
		expect(manifest.split.testRows + manifest.split.trainRows).toBe(120);
	});

	let failures = 0;
	/** Runs the CLI on bad input against an existing models folder, which must survive as it was. */
	function expectFailure(data: string, expected: RegExp): void {
		const out = join(dir, `existing-${++failures}`);
		mkdirSync(out);
		writeFileSync(join(out, "manifest.json"), "previous models");
		const run = train(data, out);
		expect(run.status).toBe(1);
		expect(run.stdout).toBe("");
		expect(run.stderr.endsWith("\n")).toBe(true);
		expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
		expect(run.stderr).toMatch(expected);
		expect(run.stderr).not.toMatch(/\bat .*:\d+:\d+/);
		expect(readdirSync(out)).toEqual(["manifest.json"]);
		expect(readFileSync(join(out, "manifest.json"), "utf8")).toBe("previous models");
		expect(readdirSync(dir).filter((name) => name.includes("staging"))).toEqual([]);
	}

	test("a missing file fails in one line", () => {
		const missing = join(dir, "nope.csv");
		expect(existsSync(missing)).toBe(false);
		expectFailure(missing, new RegExp(`^train: ${missing}: no such file\\n$`));
	});

	test("a missing column fails in one line naming file, line and column", () => {
		const { file: bad } = writeTempCsv(smallTitanicCsv(40).replace(",Age,", ",Years,"));
		expectFailure(
			bad,
			new RegExp(`^train: ${bad} line 1, column Age: missing from the header\\n$`),
		);
	});

	test("a non-numeric Fare or Pclass fails in one line naming file, line and column", () => {
		const lines = smallTitanicCsv(40).split("\n");
		lines[16] = lines[16]?.replace(/,[^,]*,,S$/, ",abc,,S") ?? "";
		const { file: badFare } = writeTempCsv(lines.join("\n"));
		expectFailure(
			badFare,
			new RegExp(`^train: ${badFare} line 17, column Fare: "abc" is not a number\\n$`),
		);

		const { file: badClass } = writeTempCsv(
			smallTitanicCsv(40).replace(/\n(5,[01]),\d,/, "\n$1,x,"),
		);
		expectFailure(
			badClass,
			new RegExp(`^train: ${badClass} line 6, column Pclass: "x" is not a number\\n$`),
		);
	});
});
