import { mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderReport, writeReport } from "./report/render.ts";
import { labelSources } from "./report/sources.ts";
import { terminalTable } from "./report/terminal.ts";
import { readResults } from "./results.ts";

const USAGE = `usage: npm run bench:report -- [--out DIR] RESULTS_DIR...
  Re-renders report.md and the charts from saved results.json files. With one folder the report is
  written back into it; with several (e.g. two machines) they are merged into one comparison,
  written to --out (default bench/results/merged-<timestamp>/).`;

function main(argv: string[]): number {
	let parsed: { values: { out?: string; help?: boolean }; positionals: string[] };
	try {
		parsed = parseArgs({
			args: argv,
			strict: true,
			allowPositionals: true,
			options: { out: { type: "string" }, help: { type: "boolean", short: "h" } },
		});
	} catch (error) {
		throw new Error((error as Error).message.split("\n")[0]);
	}
	if (parsed.values.help) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	const dirs = parsed.positionals;
	if (dirs.length === 0) throw new Error("give at least one results folder (see --help)");
	const results = dirs.map((dir) => {
		const file = statSync(dir, { throwIfNoEntry: false })?.isDirectory()
			? join(dir, "results.json")
			: dir;
		return readResults(file);
	});
	const stamp = new Date().toISOString().replace(/[:.]/g, "-");
	const first = dirs[0] as string;
	const out = resolve(
		parsed.values.out ??
			(dirs.length === 1 && statSync(first).isDirectory()
				? first
				: join("bench", "results", `merged-${stamp}`)),
	);
	mkdirSync(out, { recursive: true });
	// A results.json given by path: its raw/ is beside it.
	const folders = dirs.map((dir) => (statSync(dir).isDirectory() ? dir : dirname(dir)));
	const rendered = renderReport(labelSources(results, folders));
	writeReport(out, rendered);
	process.stdout.write(`${rendered.tables.map(terminalTable).join("\n\n")}\n`);
	process.stderr.write(`bench:report: wrote ${join(out, "report.md")}\n`);
	return 0;
}

try {
	process.exitCode = main(process.argv.slice(2));
} catch (error) {
	process.stderr.write(`bench:report: ${(error as Error).message.split("\n")[0]}\n`);
	process.exitCode = 1;
}
