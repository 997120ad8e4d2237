import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../support/server.ts";

const importsOf = (source: string) =>
	[...source.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g)].map(
		(m) => m[1] ?? m[2],
	);

/** Every import of the folder's modules that `forbidden` matches, as "file imports spec". */
function forbiddenImports(folder: string, forbidden: (spec: string) => boolean): string[] {
	const dir = join(PROJECT_ROOT, "src", folder);
	return readdirSync(dir, { recursive: true, encoding: "utf8" })
		.filter((file) => file.endsWith(".ts"))
		.flatMap((file) =>
			importsOf(readFileSync(join(dir, file), "utf8"))
				.filter((spec) => spec !== undefined && forbidden(spec))
				.map((spec) => `${file} imports ${spec}`),
		);
}

const framework = (spec: string) => /^(hono|@hono\/)/.test(spec);

test("the model layer does not depend on the HTTP layer, nor count itself", () => {
	expect(
		forbiddenImports(
			"inference",
			(spec) => spec.includes("/api/") || spec.includes("/metrics/") || framework(spec),
		),
	).toEqual([]);
});

test("the metrics module knows no framework, HTTP layer or model", () => {
	expect(
		forbiddenImports(
			"metrics",
			(spec) => spec.includes("/api/") || spec.includes("/inference/") || framework(spec),
		),
	).toEqual([]);
});
