import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { firstLine, readFailure } from "../failure.ts";
import type { OrtBackend } from "./onnx.ts";
import { openGraphModel, zeroInputs } from "./onnx-graph.ts";
import type { TensorModel } from "./tensor-model.ts";

/**
 * The models folder beyond the manifest: every `NAME.onnx` the manifest does not name is served
 * as model NAME, described from its graph, with no code change and no manifest entry.
 */

/** Model names the protocol's URLs carry without escaping; also the Prometheus label value. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const MODEL_NAME_RULE = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}";

const ONNX_SUFFIX = ".onnx";

/** Why a file cannot be served: the loader prefixes the file's path. */
export class GraphLoadError extends Error {
	readonly file: string;
	constructor(file: string, reason: string) {
		super(reason);
		this.file = file;
	}
}

/** The `.onnx` files of `dir` the manifest does not name, sorted so startup is reproducible. */
export async function extraGraphFiles(dir: string, named: ReadonlySet<string>): Promise<string[]> {
	const entries = await readdir(dir, { withFileTypes: true });
	return entries
		.filter((e) => e.name.endsWith(ONNX_SUFFIX) && !named.has(e.name) && !e.isDirectory())
		.map((e) => e.name)
		.sort();
}

/** Opens one dropped-in graph; any problem is a GraphLoadError naming the file. */
async function openDroppedIn(dir: string, file: string, backend: OrtBackend): Promise<TensorModel> {
	const name = file.slice(0, -ONNX_SUFFIX.length);
	const path = join(dir, file);
	if (!MODEL_NAME.test(name)) {
		throw new GraphLoadError(path, `the model name "${name}" does not match ${MODEL_NAME_RULE}`);
	}
	let bytes: Uint8Array;
	try {
		bytes = await readFile(path);
	} catch (error) {
		throw new GraphLoadError(path, `cannot read (${readFailure(error)})`);
	}
	try {
		return await openGraphModel(name, bytes, backend);
	} catch (error) {
		throw new GraphLoadError(path, firstLine(error));
	}
}

/** Every dropped-in graph, or the first file that cannot be served (the others are closed). */
export async function loadGraphModels(
	dir: string,
	files: readonly string[],
	backend: OrtBackend,
): Promise<TensorModel[]> {
	const models: TensorModel[] = [];
	try {
		for (const file of files) models.push(await openDroppedIn(dir, file, backend));
	} catch (error) {
		await Promise.all(models.map((m) => m.close?.()));
		throw error;
	}
	return models;
}

/**
 * One call with zeros per graph, so onnxruntime has allocated what it needs before the server
 * says it is ready. A graph may refuse zeros (a dimension the shape leaves open but the graph
 * constrains): that is not a reason to refuse the model, so `warn` gets one line instead.
 */
export async function warmGraphModels(
	models: readonly TensorModel[],
	warn: (line: string) => void,
): Promise<void> {
	for (const model of models) {
		try {
			await model.infer(
				zeroInputs(model),
				model.outputs.map((o) => o.name),
			);
		} catch (error) {
			warn(
				`${model.name}: warm-up call with zeros failed (${firstLine(error)}); serving it anyway`,
			);
		}
	}
}
