import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../support/server.ts";

const importsOf = (source: string) =>
	[...source.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g)].map(
		(m) => m[1] ?? m[2],
	);

test("the model layer does not depend on the HTTP layer", () => {
	const dir = join(PROJECT_ROOT, "src", "inference");
	const offending = readdirSync(dir, { recursive: true, encoding: "utf8" })
		.filter((file) => file.endsWith(".ts"))
		.flatMap((file) =>
			importsOf(readFileSync(join(dir, file), "utf8"))
				.filter((spec) => spec?.includes("/api/") || /^(hono|@hono\/)/.test(spec ?? ""))
				.map((spec) => `${file} imports ${spec}`),
		);
	expect(offending).toEqual([]);
});
