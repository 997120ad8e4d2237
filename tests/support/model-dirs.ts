import { afterAll } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "./server.ts";

/**
 * Temporary models folders for real servers: under `${PROJECT_ROOT}.test-tmp/` (Deno may read
 * only inside the project), each removed by the afterAll its creation registers.
 */

export const TEST_TMP = join(PROJECT_ROOT, ".test-tmp");

export interface ModelsDirOptions {
	/** Start from a copy of models/ (manifest.json and the Titanic files); otherwise empty. */
	readonly manifest?: boolean;
}

/**
 * A new models folder holding `files` (name -> bytes), on top of a copy of models/ unless
 * `manifest` is false. Call it where bun:test may register hooks (a file's top level or a
 * describe body, not inside a test): the folder is removed after the file's tests.
 */
export function modelsDirWith(
	files: Record<string, Uint8Array>,
	{ manifest = true }: ModelsDirOptions = {},
): string {
	mkdirSync(TEST_TMP, { recursive: true });
	const dir = mkdtempSync(join(TEST_TMP, "models-"));
	if (manifest) cpSync(join(PROJECT_ROOT, "models"), dir, { recursive: true });
	for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
	afterAll(() => rmSync(dir, { recursive: true, force: true }));
	return dir;
}
