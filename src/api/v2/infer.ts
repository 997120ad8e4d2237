import type { Context } from "hono";
import type { TensorModel } from "../../inference/tensor-model.ts";
import { decodeTensor, jsonData, type Tensor, TensorError } from "../../inference/tensors.ts";
import type { ModelMetrics, ServiceMetrics } from "../../metrics/service.ts";
import { readJson } from "../body.ts";
import { ApiError, issuesOf } from "../errors.ts";
import { WARM_UP_ENV } from "../request-log.ts";
import { type Respond, serverTiming } from "../respond.ts";
import type { Handler } from "../route.ts";
import type { Catalogue } from "./catalogue.ts";
import { InferRequest } from "./schemas.ts";

export interface InferLimits {
	/** The largest request body, in bytes. */
	readonly maxBodyBytes: number;
	/** Tensor elements per request, over all its inputs. */
	readonly maxElements: number;
}

/**
 * What onnxruntime's refusal says, without its source paths and assertions: the node that failed
 * ("Non-zero status code returned while running Mul node. Name:'scale' ..."), or nothing more.
 */
function graphFailure(error: unknown): string {
	const message = String((error as Error)?.message ?? error);
	const node = /running (\w+) node\. Name:'([^']*)'/.exec(message);
	return node ? `its ${node[1]} node "${node[2]}" failed on them` : "onnxruntime refused them";
}
const badTensor = (message: string) => new ApiError(400, "invalid_request", message);

/** The request's inputs, checked and converted, in the model's terms; or a TensorError. */
function inputTensors(model: TensorModel, request: InferRequest, maxElements: number): Tensor[] {
	const specs = new Map(model.inputs.map((spec) => [spec.name, spec]));
	const given = new Set<string>();
	const tensors: Tensor[] = [];
	let used = 0;
	for (const input of request.inputs) {
		const spec = specs.get(input.name);
		if (!spec) {
			const known = model.inputs.map((s) => s.name).join(", ");
			throw new TensorError(`unknown input "${input.name}"; model "${model.name}" takes ${known}`);
		}
		if (given.has(input.name)) throw new TensorError(`input "${input.name}" is given twice`);
		given.add(input.name);
		if (input.parameters && "binary_data_size" in input.parameters) {
			throw new TensorError(
				`input "${input.name}": binary tensor data is not supported; send data as JSON`,
			);
		}
		const tensor = decodeTensor(spec, input, maxElements, used);
		used += tensor.data.length;
		tensors.push(tensor);
	}
	const missing = model.inputs.find((spec) => !given.has(spec.name));
	if (missing) throw new TensorError(`missing input "${missing.name}"`);
	return tensors;
}

/** The outputs to answer: those requested, each once and known, or all of them. */
function outputNames(model: TensorModel, request: InferRequest): string[] {
	const all = model.outputs.map((spec) => spec.name);
	if (!request.outputs) return all;
	const names = request.outputs.map((output) => output.name);
	for (const [index, name] of names.entries()) {
		if (!all.includes(name)) {
			throw new TensorError(
				`unknown output "${name}"; model "${model.name}" gives ${all.join(", ")}`,
			);
		}
		if (names.indexOf(name) !== index) throw new TensorError(`output "${name}" is requested twice`);
	}
	return names;
}

/** The outputs as the protocol answers them; what JSON cannot carry exactly is a 400. */
function jsonOutputs(results: readonly Tensor[]) {
	try {
		return results.map((t) => ({
			name: t.name,
			datatype: t.datatype,
			shape: [...t.shape],
			data: jsonData(t),
		}));
	} catch (error) {
		throw error instanceof TensorError ? badTensor(error.message) : error;
	}
}

async function parseRequest(c: Context, limits: InferLimits): Promise<InferRequest> {
	const parsed = InferRequest.safeParse(
		await readJson(c.req.raw, limits.maxBodyBytes, c.env, { untypedIsJson: true }),
	);
	if (parsed.success) return parsed.data;
	const issues = issuesOf(parsed.error);
	throw new ApiError(400, "invalid_request", `${issues.length} invalid field(s)`, { issues });
}

/** Runs the model; what it refuses (values, a combination of shapes the graph rejects) is a 400. */
async function run(model: TensorModel, inputs: Tensor[], outputs: string[]): Promise<Tensor[]> {
	try {
		return await model.infer(inputs, outputs);
	} catch (error) {
		if (error instanceof TensorError) throw badTensor(error.message);
		throw badTensor(`model "${model.name}" cannot run on these inputs: ${graphFailure(error)}`);
	}
}

/**
 * POST /v2/models/{model}[/versions/{version}]/infer: read the bounded body, check every tensor
 * against the model's description, run, answer the requested outputs. With `metrics`, records
 * as the typed API's prediction handler does: warm-up requests are not counted.
 */
export function inferHandler(
	catalogue: Catalogue,
	limits: InferLimits,
	respond: Respond,
	metrics?: ServiceMetrics,
): Handler {
	const records = new Map<string, ModelMetrics>(
		metrics ? catalogue.models.map((m) => [m.name, metrics.model(m.name)]) : [],
	);
	return async (c) => {
		const enteredAt = performance.now();
		const { model, version } = catalogue.requested(c);
		const record = c.env === WARM_UP_ENV ? undefined : records.get(model.name);
		try {
			const request = await parseRequest(c, limits);
			let inputs: Tensor[];
			let outputs: string[];
			try {
				inputs = inputTensors(model, request, limits.maxElements);
				outputs = outputNames(model, request);
			} catch (error) {
				throw error instanceof TensorError ? badTensor(error.message) : error;
			}
			const startedAt = performance.now();
			const results = await run(model, inputs, outputs);
			const answeredAt = performance.now();
			const computeMs = answeredAt - startedAt;
			const response = respond(
				{
					model_name: model.name,
					...(version !== undefined && { model_version: version }),
					...(request.id !== undefined && { id: request.id }),
					outputs: jsonOutputs(results),
				},
				200,
				serverTiming(computeMs),
			);
			// The model's first input, whatever order the request listed them in.
			const first = inputs.find((t) => t.name === model.inputs[0]?.name);
			const instances = first?.shape[0] ?? 1;
			record?.succeeded((answeredAt - enteredAt) / 1000, computeMs / 1000, instances);
			return response;
		} catch (error) {
			record?.failed();
			throw error;
		}
	};
}
