import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { firstLine, readFailure, refusedByRuntime } from "../failure.ts";
import type { Executor } from "./executor.ts";
import { FEATURES, Manifest, type ModelEntry } from "./manifest.ts";
import { createMlpExecutor, MlpParams } from "./mlp.ts";
import { MODEL_IDS, type ModelId, type ModelInfo } from "./model-info.ts";
import { chooseOrtBackend, createOnnxExecutor, type OrtBackend } from "./onnx.ts";
import {
	createRowEncoder,
	encodeRows,
	type PassengerFeatures,
	type RowEncoder,
} from "./preprocess.ts";
import { extraGraphFiles, GraphLoadError, loadGraphModels, warmGraphModels } from "./repository.ts";
import type { TensorModel } from "./tensor-model.ts";
import { createTreeEnsembleExecutor, TreeEnsembleParams } from "./trees.ts";

/** Thrown when startup cannot load a model; its message names the file and is printed as is. */
export class ModelLoadError extends Error {}

export interface LoadedModel {
	readonly id: ModelId;
	readonly info: ModelInfo;
	readonly encode: RowEncoder;
	readonly executor: Executor;
}

export interface Registry {
	get(id: string): LoadedModel | undefined;
	list(): readonly LoadedModel[];
	readonly ids: readonly ModelId[];
	/** Every other NAME.onnx in the folder, served over the Open Inference Protocol only. */
	readonly graphs: readonly TensorModel[];
	/** True once every model has answered its warm-up calls. */
	readonly ready: boolean;
	warm(): Promise<void>;
	close(): Promise<void>;
}

type Family = ModelEntry["family"];

const NATIVE_EXECUTORS: Record<Family, (params: unknown) => Executor> = {
	mlp: (params) => createMlpExecutor(MlpParams.parse(params)),
	gbdt: (params) => createTreeEnsembleExecutor(TreeEnsembleParams.parse(params)),
};

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function readVerified(dir: string, file: string, expected: string): Promise<Uint8Array> {
	const path = join(dir, file);
	let bytes: Uint8Array;
	try {
		bytes = await readFile(path);
	} catch (error) {
		throw new ModelLoadError(`${path}: cannot read (${readFailure(error)})`);
	}
	if (sha256(bytes) !== expected) {
		throw new ModelLoadError(`${path}: sha256 does not match the manifest`);
	}
	return bytes;
}

/** The folder's manifest, or null when it has none (a folder of dropped-in graphs only). */
async function readManifest(dir: string): Promise<Manifest | null> {
	const path = join(dir, "manifest.json");
	let text: string;
	try {
		text = await readFile(path, "utf8");
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
		// Refused by Deno's permissions: the folder is the problem, whatever it holds.
		const where = refusedByRuntime(error) ? dir : path;
		throw new ModelLoadError(`${where}: cannot read (${readFailure(error)})`);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		throw new ModelLoadError(`${path}: not valid JSON`);
	}
	const parsed = Manifest.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ModelLoadError(`${path}: ${issue?.path.join(".")}: ${issue?.message}`);
	}
	return parsed.data;
}

function describe(
	id: ModelId,
	backend: Executor["backend"],
	entry: ModelEntry,
	manifest: Manifest,
	fields: Record<string, unknown>,
): ModelInfo {
	const file = backend === "onnxruntime" ? entry.file : entry.params.file;
	const sha = backend === "onnxruntime" ? entry.sha256 : entry.params.sha256;
	return {
		id,
		family: entry.family,
		backend,
		file,
		sha256: sha,
		input: { fields, features: [...FEATURES], scaling: entry.scaling },
		preprocessing: manifest.preprocessing,
		hyperparameters: entry.hyperparameters,
		metrics: {
			holdout: entry.metrics.holdout,
			cv5: {
				accuracyMean: entry.metrics.cv5.accuracyMean,
				accuracyStd: entry.metrics.cv5.accuracyStd,
			},
		},
	};
}

/** Passengers that cover both sexes, all classes and a missing Age: the warm-up inputs. */
const WARM_UP_PASSENGERS: PassengerFeatures[] = [
	{ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 },
	{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
	{ Pclass: 2, Sex: "female", Age: null, SibSp: 0, Parch: 2, Fare: 26 },
];
/** Batches of 1, 2 and 3: enough to check every executor answers; JIT warm-up is serve/warm-up.ts. */
const WARM_UP_ROUNDS = WARM_UP_PASSENGERS.length;

export interface LoadOptions {
	/** Startup warnings, one line each (the service's logger); stderr by default. */
	warn?: (line: string) => void;
	/** The onnxruntime-node version whose native binding is used; tests pass another. */
	testedOrtVersion?: string;
}

/**
 * Loads the models folder: every variant the manifest names, each family through onnxruntime and
 * through its TypeScript executor, and every other NAME.onnx as a graph served by name. Any
 * missing, altered, mismatched or unservable file stops the load with a ModelLoadError, so the
 * service never starts half-loaded.
 */
export async function loadRegistry(
	dir: string,
	inputFields: Record<string, unknown>,
	options: LoadOptions = {},
): Promise<Registry> {
	const warn = options.warn ?? ((line) => console.error(`warn: ${line}`));
	const manifest = await readManifest(dir);
	const named = new Set(manifest ? [manifest.models.mlp.file, manifest.models.gbdt.file] : []);
	const files = await extraGraphFiles(dir, named).catch((error) => {
		throw new ModelLoadError(`${dir}: cannot read (${readFailure(error)})`);
	});
	if (!manifest && files.length === 0) {
		throw new ModelLoadError(`${dir}: no manifest.json and no NAME.onnx file to serve`);
	}
	const taken = files.find((file) => (MODEL_IDS as readonly string[]).includes(file.slice(0, -5)));
	if (taken) {
		throw new ModelLoadError(`${join(dir, taken)}: its name is a Titanic variant's; rename it`);
	}
	const ortBackend = await chooseOrtBackend({ warn, testedVersion: options.testedOrtVersion });
	const models = manifest ? await loadVariants(dir, manifest, inputFields, ortBackend) : [];
	let graphs: TensorModel[];
	try {
		graphs = await loadGraphModels(dir, files, ortBackend);
	} catch (error) {
		await Promise.all(models.map((m) => m.executor.close?.()));
		if (error instanceof GraphLoadError)
			throw new ModelLoadError(`${error.file}: ${error.message}`);
		throw error;
	}
	return createRegistry(models, graphs, warn);
}

/** Every variant the manifest names, or the ModelLoadError of the first that does not load. */
async function loadVariants(
	dir: string,
	manifest: Manifest,
	inputFields: Record<string, unknown>,
	ortBackend: OrtBackend,
): Promise<LoadedModel[]> {
	const models: LoadedModel[] = [];
	try {
		for (const family of ["mlp", "gbdt"] as const) {
			const entry = manifest.models[family];
			const encode = createRowEncoder(manifest.preprocessing, entry.scaling);
			const onnxBytes = await readVerified(dir, entry.file, entry.sha256);
			let onnx: Executor;
			try {
				onnx = await createOnnxExecutor(onnxBytes, entry, ortBackend);
			} catch (error) {
				throw new ModelLoadError(`${join(dir, entry.file)}: ${firstLine(error)}`);
			}
			const onnxId: ModelId = `${family}-onnx`;
			models.push({
				id: onnxId,
				info: describe(onnxId, "onnxruntime", entry, manifest, inputFields),
				encode,
				executor: onnx,
			});

			const paramsPath = join(dir, entry.params.file);
			const paramsBytes = await readVerified(dir, entry.params.file, entry.params.sha256);
			let native: Executor;
			try {
				native = NATIVE_EXECUTORS[family](JSON.parse(new TextDecoder().decode(paramsBytes)));
			} catch (error) {
				const reason =
					error instanceof z.ZodError
						? `${error.issues[0]?.path.join(".")}: ${error.issues[0]?.message}`
						: (error as Error).message;
				throw new ModelLoadError(`${paramsPath}: ${reason}`);
			}
			const tsId: ModelId = `${family}-ts`;
			models.push({
				id: tsId,
				info: describe(tsId, "typescript", entry, manifest, inputFields),
				encode,
				executor: native,
			});
		}
	} catch (error) {
		await Promise.all(models.map((m) => m.executor.close?.()));
		throw error;
	}
	return models;
}
function createRegistry(
	models: readonly LoadedModel[],
	graphs: readonly TensorModel[],
	warn: (line: string) => void,
): Registry {
	const byId = new Map<string, LoadedModel>(models.map((m) => [m.id, m]));
	let ready = false;
	return {
		get: (id) => byId.get(id),
		list: () => models,
		ids: models.map((m) => m.id),
		graphs,
		get ready() {
			return ready;
		},
		async warm() {
			for (const model of models) {
				for (let round = 0; round < WARM_UP_ROUNDS; round++) {
					const passengers = WARM_UP_PASSENGERS.slice(0, 1 + (round % WARM_UP_PASSENGERS.length));
					const input = encodeRows(model.encode, passengers);
					const out = await model.executor.predict(input, passengers.length);
					if (out.length !== passengers.length || !out.every((p) => p >= 0 && p <= 1)) {
						throw new ModelLoadError(`${model.id}: warm-up gave an invalid probability`);
					}
				}
			}
			await warmGraphModels(graphs, warn);
			ready = true;
		},
		async close() {
			ready = false;
			await Promise.all([
				...models.map((m) => m.executor.close?.()),
				...graphs.map((g) => g.close?.()),
			]);
		},
	};
}
