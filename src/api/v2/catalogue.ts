import type { Context } from "hono";
import type { Registry } from "../../inference/registry.ts";
import { MODEL_VERSION, type TensorModel } from "../../inference/tensor-model.ts";
import { ApiError } from "../errors.ts";
import { titanicTensorModel } from "./titanic.ts";

/** Every model the protocol serves, by name: the Titanic variants, then each dropped-in graph. */
export interface Catalogue {
	readonly models: readonly TensorModel[];
	/** The model (and version, when the path names one) of a request, or the 404 that says why not. */
	requested(c: Context): { model: TensorModel; version: string | undefined };
}

/** How many names a 404 lists; a folder of hundreds of models would otherwise fill the answer. */
const LISTED_NAMES = 20;

export function createCatalogue(registry: Registry): Catalogue {
	const models = [...registry.list().map(titanicTensorModel), ...registry.graphs];
	const byName = new Map(models.map((m) => [m.name, m]));
	const names = models.map((m) => m.name);
	const listed =
		names.length > LISTED_NAMES
			? `${names.slice(0, LISTED_NAMES).join(", ")} and ${names.length - LISTED_NAMES} more`
			: names.join(", ");
	return {
		models,
		requested(c) {
			const name = c.req.param("model") ?? "";
			const model = byName.get(name);
			if (!model) {
				// Echo a name, never a megabyte of one.
				const shown = name.length > 80 ? `${name.slice(0, 80)}...` : name;
				throw new ApiError(
					404,
					"unknown_model",
					`unknown model ${JSON.stringify(shown)}; known models: ${listed}`,
				);
			}
			const version = c.req.param("version");
			if (version !== undefined && version !== MODEL_VERSION) {
				throw new ApiError(
					404,
					"unknown_model",
					`model "${name}" has no version ${JSON.stringify(version)}; its versions: ${MODEL_VERSION}`,
				);
			}
			return { model, version };
		},
	};
}
