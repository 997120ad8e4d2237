import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sample } from "./loadgen/types.ts";
import type { MetricsSetting } from "./results.ts";

/** The per-request CSVs under raw/, one per measured run, named relative to results.json. */

const HEADER = "start_us,duration_us,status,infer_ms";

function rawCsv(samples: readonly Sample[]): string {
	const lines = [HEADER];
	for (const s of samples) {
		lines.push(`${s.startUs.toFixed(3)},${s.durationUs.toFixed(3)},${s.status},${s.inferMs ?? ""}`);
	}
	return `${lines.join("\n")}\n`;
}

/**
 * "-w2" for two workers, "-metrics-off" for METRICS=off, "-stages" for the timed server of
 * --stages; the defaults (one worker, metrics on, untimed) add nothing, so folders from before
 * --workers and --metrics line up.
 */
export const serverSuffix = ({
	workers,
	metrics,
	stages = false,
}: {
	workers: number;
	metrics: MetricsSetting | null;
	stages?: boolean;
}): string =>
	`${workers === 1 ? "" : `-w${workers}`}${metrics === "off" ? "-metrics-off" : ""}${stages ? "-stages" : ""}`;

/** Writes `raw/<name>.csv` under outDir and returns that relative path. */
export function writeRawCsv(outDir: string, name: string, samples: readonly Sample[]): string {
	const file = `raw/${name}.csv`;
	writeFileSync(join(outDir, file), rawCsv(samples));
	return file;
}
