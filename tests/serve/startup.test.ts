import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Manifest } from "../../src/inference/manifest.ts";
import { PROJECT_ROOT, RUNTIMES, runToExit, serveCommand } from "../support/server.ts";

/** Startup problems end in one line on stderr and exit status 1, on every runtime. */

// Each test runs a server to its exit, over a second for Node on a loaded 2-core machine. Longer
// than runToExit's own 20 s limit, so a hung server fails with its output, not bun's timeout.
setDefaultTimeout(30_000);

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

function editManifest(dir: string, edit: (manifest: Manifest) => void): void {
	const path = join(dir, "manifest.json");
	const manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
	edit(manifest);
	writeFileSync(path, JSON.stringify(manifest));
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
			/cannot load models: \/nonexistent(\/manifest\.json)?: cannot read/,
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

	test("a missing model file", async () => {
		const dir = copyOfModels();
		rmSync(join(dir, "mlp.json"));
		try {
			const result = await runToExit(serveCommand(runtime), { PORT: "0", MODELS_DIR: dir });
			expectOneLineFailure(result, /mlp\.json: cannot read/, runtime);
		} finally {
			rmSync(dir, { recursive: true });
		}
	});

	test("a truncated model whose sha256 the manifest was made to match", async () => {
		const dir = copyOfModels();
		const truncated = readFileSync(join(dir, "gbdt.onnx")).subarray(0, 200);
		writeFileSync(join(dir, "gbdt.onnx"), truncated);
		editManifest(dir, (m) => {
			m.models.gbdt.sha256 = createHash("sha256").update(truncated).digest("hex");
		});
		try {
			const result = await runToExit(serveCommand(runtime), { PORT: "0", MODELS_DIR: dir });
			expectOneLineFailure(result, /cannot load models: .*gbdt\.onnx: \S/, runtime);
		} finally {
			rmSync(dir, { recursive: true });
		}
	});

	test("a graph whose input does not match the manifest", async () => {
		const dir = copyOfModels();
		editManifest(dir, (m) => {
			m.models.gbdt.inputs = [{ name: "x", type: "float32", shape: ["N", 7] }];
		});
		try {
			const result = await runToExit(serveCommand(runtime), { PORT: "0", MODELS_DIR: dir });
			expectOneLineFailure(
				result,
				/gbdt\.onnx: input "x" has shape \[N,6\], the manifest says \[N,7\]/,
				runtime,
			);
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
