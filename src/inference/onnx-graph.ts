import * as ort from "onnxruntime-node";
import { type OrtBackend, publicGraphValues, SESSION_OPTIONS } from "./onnx.ts";
import { type GraphValue, type NativeTensor, nativeTensor } from "./ort-native.ts";
import type { TensorModel } from "./tensor-model.ts";
import {
	DATATYPE_NAMES,
	DATATYPES,
	datatypeOfOrt,
	type Tensor,
	type TensorSpec,
} from "./tensors.ts";

/**
 * Any ONNX graph a user drops into the models folder, served as tensors in, tensors out: its
 * inputs and outputs (names, element types, shapes) are read from the graph itself.
 */

type Results = Record<string, ort.OnnxValue>;

/** A loaded graph on either onnxruntime backend: what it declares, and how to run it. */
interface OpenGraph {
	readonly inputs: readonly GraphValue[];
	readonly outputs: readonly GraphValue[];
	run(tensors: readonly Tensor[], outputs: readonly string[]): Results | Promise<Results>;
	close(): Promise<void>;
}

async function openGraph(bytes: Uint8Array, backend: OrtBackend): Promise<OpenGraph> {
	if (backend.kind === "native") {
		const { session, inputs, outputs } = backend.ort.open(bytes, SESSION_OPTIONS);
		return {
			inputs,
			outputs,
			// Plain feeds and no run options: all the binding reads, without the per-call work an
			// ort.Tensor and a run options object cost it (ort-native.ts).
			run(tensors, names) {
				const feeds: Record<string, NativeTensor> = {};
				for (const { name, datatype, data, shape } of tensors) {
					feeds[name] = nativeTensor(DATATYPES[datatype].ort, data, shape);
				}
				return session.run(feeds, Object.fromEntries(names.map((name) => [name, null])));
			},
			close: async () => session.dispose(),
		};
	}
	const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
	return {
		inputs: publicGraphValues(session.inputMetadata),
		outputs: publicGraphValues(session.outputMetadata),
		run(tensors, names) {
			const feeds: Record<string, ort.Tensor> = {};
			for (const { name, datatype, data, shape } of tensors) {
				feeds[name] = new ort.Tensor(DATATYPES[datatype].ort as "float32", data as Float32Array, [
					...shape,
				]);
			}
			return session.run(feeds, [...names]);
		},
		close: () => session.release(),
	};
}

/** The protocol's description of a graph value, or the reason it cannot be served. */
function specOf(kind: "input" | "output", value: GraphValue): TensorSpec {
	if (!value.isTensor) {
		throw new Error(`${kind} "${value.name}" is not a tensor (sequences and maps are not served)`);
	}
	const datatype = datatypeOfOrt(value.type);
	if (!datatype) {
		throw new Error(
			`${kind} "${value.name}" holds ${value.type ?? "an unknown type"}; served types: ${DATATYPE_NAMES.join(", ")}`,
		);
	}
	return { name: value.name, datatype, shape: value.shape.map((d) => (d === "N" ? -1 : d)) };
}

function toOutputs(results: Results, names: readonly string[], specs: Map<string, TensorSpec>) {
	return names.map((name): Tensor => {
		const value = results[name] as ort.Tensor;
		const datatype = datatypeOfOrt(value.type) ?? (specs.get(name) as TensorSpec).datatype;
		return { name, datatype, shape: value.dims, data: value.data as Tensor["data"] };
	});
}

/**
 * Opens `bytes` as the model `name`. Throws, with a one-line reason, when the graph does not
 * load or uses an input or output the protocol side cannot carry.
 */
export async function openGraphModel(
	name: string,
	bytes: Uint8Array,
	backend: OrtBackend,
): Promise<TensorModel> {
	const graph = await openGraph(bytes, backend);
	let inputs: TensorSpec[];
	let outputs: TensorSpec[];
	try {
		inputs = graph.inputs.map((value) => specOf("input", value));
		outputs = graph.outputs.map((value) => specOf("output", value));
	} catch (error) {
		await graph.close();
		throw error;
	}
	const outputSpecs = new Map(outputs.map((spec) => [spec.name, spec]));
	return {
		name,
		platform: "onnxruntime_onnx",
		inputs,
		outputs,
		infer(tensors, names) {
			const results = graph.run(tensors, names);
			return results instanceof Promise
				? results.then((done) => toOutputs(done, names, outputSpecs))
				: toOutputs(results, names, outputSpecs);
		},
		close: () => graph.close(),
	};
}

/** Zeros for every input, dynamic dimensions as 1: the one call that warms a graph up. */
export function zeroInputs(model: TensorModel): Tensor[] {
	return model.inputs.map((spec) => {
		const shape = spec.shape.map((d) => (d === -1 ? 1 : d));
		const count = shape.reduce((a, b) => a * b, 1);
		return {
			name: spec.name,
			datatype: spec.datatype,
			shape,
			data: DATATYPES[spec.datatype].allocate(count),
		};
	});
}
