import { afterAll, beforeAll } from "bun:test";
import { PASSENGER_FIELDS } from "../../src/api/schemas.ts";
import { loadRegistry, type Registry } from "../../src/inference/registry.ts";
import { PROJECT_ROOT } from "./server.ts";

/**
 * The registry of the project's own models/ (the four Titanic variants), shared by a test file's
 * tests: loading the onnxruntime sessions once per file rather than once per test.
 */

export interface TitanicRegistryOptions {
	/** Run Registry.warm() before the first test, so it is ready as a started service's is. */
	readonly warm?: boolean;
}

/**
 * Registers the beforeAll that loads models/ (and warms it, if asked) and the afterAll that closes
 * it. Call it where bun:test may register hooks (a file's top level or a describe body, not
 * inside a test); the accessor it returns gives the registry from then until the hooks' scope ends.
 */
export function titanicRegistry({ warm = false }: TitanicRegistryOptions = {}): () => Registry {
	let registry: Registry | undefined;
	beforeAll(async () => {
		registry = await loadRegistry(`${PROJECT_ROOT}models`, PASSENGER_FIELDS);
		if (warm) await registry.warm();
	});
	afterAll(async () => {
		const closing = registry;
		// close() releases the onnxruntime sessions: a later use should fail here, not inside them.
		registry = undefined;
		await closing?.close();
	});
	return () => {
		if (!registry) {
			throw new Error(
				"titanicRegistry(): no registry here; it exists only between its beforeAll and afterAll, " +
					"so use it inside a test or a later hook, not at a file's or describe's top level",
			);
		}
		return registry;
	};
}
