import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { InferenceSession, OnnxValue } from "onnxruntime-node";
import type { Binding } from "onnxruntime-node/dist/binding.js";
import { firstLine } from "../failure.ts";

/**
 * The only module that touches onnxruntime-node's internal binding (`dist/binding.js`), which
 * onnx.ts calls synchronously because the public `InferenceSession.run()` costs more than these
 * graphs' inference. The binding is not a public API, so it is used only when the installed
 * package is exactly the version it was tested with and looks as expected; otherwise the caller
 * gets the reason and falls back to the public API.
 */

export const TESTED_ORT_VERSION = "1.30.0";

/** A graph input or output, as the manifest describes one: "N" is a dynamic dimension. */
export interface GraphValue {
	readonly name: string;
	readonly isTensor: boolean;
	readonly type: string | undefined;
	readonly shape: readonly (number | "N")[];
}

/** The typed arrays onnxruntime takes as numeric tensor data. */
export type TensorData =
	| Float32Array
	| Float64Array
	| Int8Array
	| Int16Array
	| Int32Array
	| BigInt64Array
	| Uint8Array
	| Uint16Array
	| Uint32Array
	| BigUint64Array;

/**
 * A feed as the native `run` reads it: four properties, no `ort.Tensor` needed. For a "cpu"
 * tensor the binding reads `dims`, `location`, `type` and `data`, checks the typed array's kind
 * against `type` and that it holds at least `dims` elements, and runs the graph on `data`'s
 * own memory (no copy) during the call; it keeps nothing afterwards.
 */
export interface NativeTensor {
	readonly location: "cpu";
	readonly type: string;
	readonly dims: readonly number[];
	readonly data: TensorData;
}

/**
 * A feed for the native `run`, in place of `new ort.Tensor(type, data, dims)`: the binding
 * accepts any object with those properties, and skipping the class's constructor and its
 * `data`/`location` getters saves about 0.4 us a call (onnx.ts has the measurement). The one
 * check the constructor made that the binding does not (it takes data longer than `dims` need,
 * and silently ignores the rest) is made here, with the constructor's message.
 */
export function nativeTensor(
	type: string,
	data: TensorData,
	dims: readonly number[],
): NativeTensor {
	let size = 1;
	for (const dim of dims) size *= dim;
	if (size !== data.length) {
		throw new Error(`Tensor's size(${size}) does not match data length(${data.length}).`);
	}
	return { location: "cpu", type, dims, data };
}

/** The native session's per-request surface: `run` answers synchronously. */
export interface NativeSession {
	/**
	 * Each fetch is null: onnxruntime allocates the output, and the binding returns it copied into
	 * a new `ort.Tensor` whose data no later call touches. Without `options` the binding runs with
	 * its default run options, made once; any object, even `{}`, makes it build and parse a new
	 * native RunOptions on every call.
	 */
	run(
		feeds: Record<string, NativeTensor>,
		fetches: Record<string, null>,
		options?: InferenceSession.RunOptions,
	): Record<string, OnnxValue>;
	dispose(): void;
}

export interface NativeModel {
	readonly session: NativeSession;
	readonly inputs: readonly GraphValue[];
	readonly outputs: readonly GraphValue[];
}

/** Opens graphs with the native session; loading is synchronous too. */
export interface NativeOrt {
	open(bytes: Uint8Array, options: InferenceSession.SessionOptions): NativeModel;
}

export type NativeOrtResult = { readonly native: NativeOrt } | { readonly unavailable: string };

// ONNX TensorProto element types, as the binding reports them, by the public API's names.
const ELEMENT_TYPES: Record<number, string> = {
	1: "float32",
	2: "uint8",
	3: "int8",
	4: "uint16",
	5: "int16",
	6: "int32",
	7: "int64",
	8: "string",
	9: "bool",
	10: "float16",
	11: "float64",
	12: "uint32",
	13: "uint64",
};

/**
 * The installed onnxruntime-node version, from its package.json. import.meta.resolve and
 * readFileSync behave alike on Node, Bun and Deno, and the file lies inside the project, which
 * is all Deno's `--allow-read=.` grants.
 */
export function installedOrtVersion(): string {
	const path = fileURLToPath(import.meta.resolve("onnxruntime-node/package.json"));
	const version = (JSON.parse(readFileSync(path, "utf8")) as { version?: unknown }).version;
	if (typeof version !== "string") throw new Error(`${path} names no version`);
	return version;
}

type BindingModule = typeof import("onnxruntime-node/dist/binding.js");

/** What differs from the binding this module was written against, or null. */
export function bindingShapeProblem(module: unknown): string | null {
	const { initOrt, binding } = (module ?? {}) as Partial<BindingModule>;
	if (typeof initOrt !== "function") return "has no initOrt()";
	const proto = (binding?.InferenceSession as { prototype?: object } | undefined)?.prototype;
	if (typeof binding?.InferenceSession !== "function" || !proto) return "has no InferenceSession";
	for (const method of ["loadModel", "run", "dispose"]) {
		if (typeof Reflect.get(proto, method) !== "function") return `has no session.${method}()`;
	}
	for (const getter of ["inputMetadata", "outputMetadata"]) {
		if (!Object.getOwnPropertyDescriptor(proto, getter)?.get) return `has no session.${getter}`;
	}
	return null;
}

function graphValues(declared: readonly Binding.ValueMetadata[]): GraphValue[] {
	return declared.map((d) => ({
		name: d.name,
		isTensor: d.isTensor,
		type: ELEMENT_TYPES[d.type],
		shape: d.shape.map((dim) => (dim === -1 ? "N" : dim)),
	}));
}

function nativeOrt({ initOrt, binding }: BindingModule): NativeOrt {
	initOrt();
	return {
		open(bytes, options) {
			const session = new binding.InferenceSession();
			session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
			return {
				// binding.d.ts types feeds as ort.Tensor; the native code reads only NativeTensor's part.
				session: session as unknown as NativeSession,
				inputs: graphValues(session.inputMetadata),
				outputs: graphValues(session.outputMetadata),
			};
		},
	};
}

/**
 * The native session when the installed onnxruntime-node is `testedVersion` and its binding has
 * the expected shape; otherwise why not, in words that fit one log line. The binding is imported
 * only after the version check, so a package that moved or dropped it cannot stop the service.
 */
export async function loadNativeOrt(testedVersion = TESTED_ORT_VERSION): Promise<NativeOrtResult> {
	let version: string;
	try {
		version = installedOrtVersion();
	} catch (error) {
		return { unavailable: `onnxruntime-node's version cannot be read (${firstLine(error)})` };
	}
	if (version !== testedVersion) {
		return {
			unavailable: `onnxruntime-node ${version} is installed, not ${testedVersion}, the version whose internal binding was tested`,
		};
	}
	let module: unknown;
	try {
		const imported = (await import("onnxruntime-node/dist/binding.js")) as { default?: unknown };
		module = imported.default ?? imported;
	} catch (error) {
		return {
			unavailable: `onnxruntime-node's internal binding cannot be loaded (${firstLine(error)})`,
		};
	}
	const problem = bindingShapeProblem(module);
	if (problem) return { unavailable: `onnxruntime-node ${version}'s internal binding ${problem}` };
	return { native: nativeOrt(module as BindingModule) };
}
