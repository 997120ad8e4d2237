import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Manifest } from "../inference/manifest.ts";
import { TrainingDataError } from "./csv.ts";
import { trainModels } from "./pipeline.ts";
import { writeModelsFolder } from "./write-models.ts";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_DATA = resolve(PROJECT_ROOT, "../shared/data/titanic/train.csv");
const DEFAULT_OUT = resolve(PROJECT_ROOT, "models");

const USAGE = `usage: node src/train/cli.ts [--data PATH] [--out DIR]
  --data PATH  Kaggle's Titanic train.csv (default ../shared/data/titanic/train.csv beside the project)
  --out DIR    where models/ is written (default models in the project)`;

function metricsTable(manifest: Manifest): string {
	const header = ["model", "accuracy", "ROC AUC", "log loss", "CV5 accuracy (train split)"];
	const rows = Object.values(manifest.models).map((m) => {
		const { holdout, cv5 } = m.metrics;
		return [
			m.family,
			holdout.accuracy.toFixed(4),
			holdout.rocAuc.toFixed(4),
			holdout.logLoss.toFixed(4),
			`${cv5.accuracyMean.toFixed(4)} ± ${cv5.accuracyStd.toFixed(4)}`,
		];
	});
	const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
	return [header, ...rows]
		.map((r) =>
			r
				.map((cell, c) => cell.padEnd(widths[c] ?? 0))
				.join("  ")
				.trimEnd(),
		)
		.join("\n");
}

function main(): number {
	let values: { data?: string; out?: string; help?: boolean };
	try {
		({ values } = parseArgs({
			options: {
				data: { type: "string" },
				out: { type: "string" },
				help: { type: "boolean", short: "h" },
			},
		}));
	} catch (error) {
		console.error(`train: ${(error as Error).message}\n${USAGE}`);
		return 2;
	}
	if (values.help) {
		console.log(USAGE);
		return 0;
	}
	const dataFile = values.data === undefined ? DEFAULT_DATA : resolve(values.data);
	const outDir = values.out === undefined ? DEFAULT_OUT : resolve(values.out);
	// Recorded relative to the project so the manifest is the same on every machine.
	const dataLabel = relative(PROJECT_ROOT, dataFile).split("\\").join("/");
	const { manifest, files } = trainModels(dataFile, dataLabel);
	writeModelsFolder(outDir, files);
	console.log(
		`trained on ${manifest.split.trainRows} rows, held out ${manifest.split.testRows} (stratified, seed ${manifest.split.seed}); wrote ${relative(process.cwd(), outDir) || "."}/`,
	);
	console.log(metricsTable(manifest));
	return 0;
}

try {
	process.exitCode = main();
} catch (error) {
	// One line, no stack: a bad data file is the user's to fix, and the message says where.
	const message =
		error instanceof TrainingDataError ? error.message : String((error as Error)?.message ?? error);
	console.error(`train: ${message.split("\n")[0]}`);
	process.exitCode = 1;
}
