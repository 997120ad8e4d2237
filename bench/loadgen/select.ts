import { join } from "node:path";
import type { LoadgenMode } from "../options.ts";
import { BuiltinGenerator } from "./builtin.ts";
import { H2LOAD_NO_DURATION, H2loadError, probeH2load } from "./h2load.ts";
import { OhaError, probeOha } from "./oha.ts";
import type { LoadGenerator } from "./types.ts";

/**
 * auto: oha when it is found and new enough, else h2load when it is, else the built-in generator.
 * `timed` (the soak's duration mode) leaves h2load out: see H2LOAD_NO_DURATION.
 */
export async function selectGenerator(
	mode: LoadgenMode,
	root: string,
	projectVersion: string,
	env: NodeJS.ProcessEnv = process.env,
	{ timed = false }: { timed?: boolean } = {},
): Promise<LoadGenerator> {
	const builtin = () =>
		BuiltinGenerator.create(join(root, "node_modules", ".bin", "node"), projectVersion);
	if (mode === "builtin") return builtin();
	if (mode === "oha") return probeOha(env);
	if (mode === "h2load") {
		if (timed) throw new H2loadError(H2LOAD_NO_DURATION);
		return probeH2load(env);
	}
	for (const probe of timed ? [probeOha] : [probeOha, probeH2load]) {
		try {
			return await probe(env);
		} catch (error) {
			if (!(error instanceof OhaError || error instanceof H2loadError)) throw error;
		}
	}
	return builtin();
}
