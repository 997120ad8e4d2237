import { join } from "node:path";
import type { LoadgenMode } from "../options.ts";
import { BuiltinGenerator } from "./builtin.ts";
import { OhaError, probeOha } from "./oha.ts";
import type { LoadGenerator } from "./types.ts";

/** auto: oha when it is found and new enough, else the built-in generator. */
export async function selectGenerator(
	mode: LoadgenMode,
	root: string,
	projectVersion: string,
	env: NodeJS.ProcessEnv = process.env,
): Promise<LoadGenerator> {
	const builtin = () =>
		BuiltinGenerator.create(join(root, "node_modules", ".bin", "node"), projectVersion);
	if (mode === "builtin") return builtin();
	if (mode === "oha") return probeOha(env);
	try {
		return await probeOha(env);
	} catch (error) {
		if (error instanceof OhaError) return builtin();
		throw error;
	}
}
