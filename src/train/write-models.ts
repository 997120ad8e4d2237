import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Replaces `outDir` with a folder holding exactly `files`. Everything is written into a
 * temporary sibling first and swapped in by rename, so a failure never leaves a half-written
 * `outDir` and an earlier one stays as it was until the new one is complete.
 */
export function writeModelsFolder(outDir: string, files: ReadonlyMap<string, Uint8Array>): void {
	const parent = dirname(outDir);
	mkdirSync(parent, { recursive: true });
	const staging = join(parent, `.${basename(outDir)}.staging-${process.pid}`);
	const retired = join(parent, `.${basename(outDir)}.retired-${process.pid}`);
	rmSync(staging, { recursive: true, force: true });
	try {
		mkdirSync(staging);
		for (const [name, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
			writeFileSync(join(staging, name), bytes);
		}
		if (existsSync(outDir)) {
			renameSync(outDir, retired);
			try {
				renameSync(staging, outDir);
			} catch (error) {
				renameSync(retired, outDir);
				throw error;
			}
			rmSync(retired, { recursive: true, force: true });
		} else {
			renameSync(staging, outDir);
		}
	} finally {
		rmSync(staging, { recursive: true, force: true });
	}
}
