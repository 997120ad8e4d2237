import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { PROJECT_ROOT, RUNTIMES, runToExit, serveCommand } from "../support/server.ts";

/** Startup problems end in one line on stderr and exit status 1, on every runtime. */

function expectOneLineFailure(
	result: { code: number | null; stderr: string },
	pattern: RegExp,
	runtime: string,
): void {
	const lines = result.stderr.trim().split("\n");
	expect({ runtime, code: result.code }).toEqual({ runtime, code: 1 });
	expect({ runtime, lines: lines.length }).toEqual({ runtime, lines: 1 });
	expect(lines[0]).toMatch(pattern);
}

function copyOfModels(): string {
	// Inside the project: Deno may read only there.
	mkdirSync(`${PROJECT_ROOT}.test-tmp`, { recursive: true });
	const dir = mkdtempSync(`${PROJECT_ROOT}.test-tmp/models-`);
	cpSync(`${PROJECT_ROOT}models`, dir, { recursive: true });
	return dir;
}

describe.each(RUNTIMES)("%s startup", (runtime) => {
	test("a bad PORT", async () => {
		const result = await runToExit(serveCommand(runtime), { PORT: "http" });
		expectOneLineFailure(result, /^titanic-serve: invalid PORT="http"/, runtime);
	});

	test("a missing models folder", async () => {
		const result = await runToExit(serveCommand(runtime), {
			PORT: "0",
			MODELS_DIR: "/nonexistent",
		});
		expectOneLineFailure(
			result,
			/cannot load models: \/nonexistent\/manifest\.json: cannot read/,
			runtime,
		);
	});

	test("a model file that does not match its sha256", async () => {
		const dir = copyOfModels();
		writeFileSync(join(dir, "gbdt.onnx"), "truncated");
		try {
			const result = await runToExit(serveCommand(runtime), { PORT: "0", MODELS_DIR: dir });
			expectOneLineFailure(result, /gbdt\.onnx: sha256 does not match the manifest/, runtime);
		} finally {
			rmSync(dir, { recursive: true });
		}
	});

	test("a port in use", async () => {
		const blocker = createServer();
		await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
		const { port } = blocker.address() as { port: number };
		try {
			const result = await runToExit(serveCommand(runtime), { PORT: String(port) });
			expectOneLineFailure(
				result,
				new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`),
				runtime,
			);
		} finally {
			blocker.close();
		}
	});
});
