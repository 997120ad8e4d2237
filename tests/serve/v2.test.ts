import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { parseSamples, untilReadyLogged } from "../support/metrics-text.ts";
import { modelsDirWith } from "../support/model-dirs.ts";
import {
	IDENTITY_DATATYPES,
	type IdentityDatatype,
	identityModel,
	MIXED_EXAMPLE,
	MIXED_SPEC,
	type ModelSpec,
	mixedModel,
	notOnnxBytes,
	SPEC_EXAMPLE_OUTPUT0,
	SPEC_EXAMPLE_REQUEST,
	SPEC_EXAMPLE_SPEC,
	specExampleModel,
	stringInputModel,
} from "../support/onnx-models.ts";
import {
	RUNTIMES,
	type RunningServer,
	type Runtime,
	runToExit,
	type ServerEnv,
	serveCommand,
	startServer,
} from "../support/server.ts";

/**
 * The Open Inference Protocol ("V2") on real servers of Node, Bun and Deno: models dropped into
 * the models folder (written by tests/support/onnx-models.ts) described and run as onnxruntime's
 * public API runs them, the spec's own example, the Titanic variants agreeing with the typed API,
 * every datatype round-tripping, startup refusals, API_KEY and exact metrics. Floats are compared
 * within tolerances, never bit for bit across implementations; nothing depends on timing.
 */

// Generous bounds for a loaded machine; never timings.
const STARTUP_MS = 60_000;
setDefaultTimeout(3 * STARTUP_MS);

const KEY = "v2-e2e-key-0123456789abcdef";
/** The widest difference allowed between two float answers (float32 rounding of the inputs). */
const TOLERANCE = 1e-6;
const TITANIC_IDS = ["mlp-onnx", "mlp-ts", "gbdt-onnx", "gbdt-ts"] as const;
const SEX_CODE = { female: 0, male: 1 } as const;

// --- models folders: created while the file loads, removed after its tests ---

const SERVED = modelsDirWith({
	"mixed.onnx": mixedModel(),
	"mymodel.onnx": specExampleModel(),
	"identity.onnx": identityModel(),
});
const ONLY_MIXED = modelsDirWith({ "mixed.onnx": mixedModel() }, { manifest: false });

/** Files the server refuses to start with, each beside the Titanic models, and why. */
const REFUSALS = [
	{
		file: "bad name!.onnx",
		bytes: mixedModel(),
		reason: /the model name "bad name!" does not match /,
	},
	// onnxruntime's own words, which its versions may change: any reason at all.
	{ file: "notonnx.onnx", bytes: notOnnxBytes(), reason: /\S/ },
	{ file: "strings.onnx", bytes: stringInputModel(), reason: /input "text" holds string; served / },
	{
		file: "mlp-ts.onnx",
		bytes: mixedModel(),
		reason: /its name is a Titanic variant's; rename it/,
	},
].map((refusal) => ({ ...refusal, dir: modelsDirWith({ [refusal.file]: refusal.bytes }) }));

// --- servers and requests ---

/** One server for the enclosing describe, ready before its first test; its URL once started. */
function serverFor(runtime: Runtime, env: ServerEnv): () => string {
	let server: RunningServer | undefined;
	beforeAll(async () => {
		server = await startServer(runtime, env, STARTUP_MS);
		await untilReadyLogged(server, STARTUP_MS);
	});
	afterAll(async () => {
		expect({ runtime, exit: await server?.stop() }).toEqual({ runtime, exit: 0 });
	});
	return () => server?.url ?? "";
}

interface Answer {
	readonly status: number;
	readonly headers: Headers;
	// biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked by the tests
	readonly body: any;
}

async function call(url: string, path: string, init: RequestInit = {}): Promise<Answer> {
	const response = await fetch(`${url}${path}`, init);
	const text = await response.text();
	const isJson = response.headers.get("content-type")?.startsWith("application/json");
	return {
		status: response.status,
		headers: response.headers,
		body: isJson ? JSON.parse(text) : text,
	};
}

const get = (url: string, path: string, headers: Record<string, string> = {}) =>
	call(url, path, { headers });

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
	call(url, path, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	});

/** A protocol error: exactly `{"error": "<message>"}`, the message matching every pattern. */
function expectProtocolError(answer: Answer, status: number, ...patterns: RegExp[]): void {
	expect({ status: answer.status, keys: Object.keys(answer.body) }).toEqual({
		status,
		keys: ["error"],
	});
	expect(typeof answer.body.error).toBe("string");
	for (const pattern of patterns) expect(answer.body.error).toMatch(pattern);
}

/** Every value within `tolerance` of its expected one, and as many of them. */
function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number) {
	expect(actual.length).toBe(expected.length);
	const off = actual.flatMap((value, i) => {
		const want = expected[i] as number;
		return Math.abs(value - want) <= tolerance ? [] : [{ index: i, value, want }];
	});
	expect(off).toEqual([]);
}

/** The model metadata V2 should answer for a test model of `spec`. */
const metadataOf = (name: string, spec: ModelSpec) => ({
	name,
	versions: ["1"],
	platform: "onnxruntime_onnx",
	inputs: spec.inputs,
	outputs: spec.outputs,
});

/**
 * A startup refusal as README promises it: exit 1 and one line, "cannot load models: <file>:
 * <reason>"; that line is all the output, so the server never said it was listening.
 */
function expectRefusal(
	runtime: Runtime,
	result: { code: number | null; stdout: string; stderr: string },
	file: string,
	reason: RegExp,
): void {
	const lines = `${result.stdout}${result.stderr}`.trim().split("\n");
	expect({ runtime, code: result.code, lines }).toEqual({
		runtime,
		code: 1,
		lines: [expect.any(String)],
	});
	const prefix = `titanic-serve: cannot load models: ${file}: `;
	expect(lines[0]).toStartWith(prefix);
	expect(lines[0]?.slice(prefix.length)).toMatch(reason);
}

/** The named output of a V2 answer. */
function outputOf(answer: Answer, name: string) {
	const output = answer.body.outputs?.find((o: { name: string }) => o.name === name);
	if (!output) throw new Error(`no output "${name}" in ${JSON.stringify(answer.body)}`);
	return output as { name: string; datatype: string; shape: number[]; data: number[] };
}

// --- the mixed model: requests, and onnxruntime's own answer through its public API ---

type Rows = readonly (readonly number[])[];

function mixedRequest(count: Rows, weight: Rows, nested: boolean) {
	const shape = [count.length, 3];
	const data = (rows: Rows) => (nested ? rows : rows.flat());
	return {
		inputs: [
			{ name: "count", datatype: "INT64", shape, data: data(count) },
			{ name: "weight", datatype: "FP64", shape, data: data(weight) },
		],
	};
}

/** What onnxruntime-node's public InferenceSession, in this process, answers for the rows. */
async function ortMixed(count: Rows, weight: Rows): Promise<{ scaled: number[]; total: number[] }> {
	const session = await ort.InferenceSession.create(mixedModel());
	try {
		const dims = [count.length, 3];
		const out = await session.run({
			count: new ort.Tensor("int64", BigInt64Array.from(count.flat(), BigInt), dims),
			weight: new ort.Tensor("float64", Float64Array.from(weight.flat()), dims),
		});
		return {
			scaled: Array.from(out.scaled?.data as Float64Array),
			total: Array.from(out.total?.data as BigInt64Array, Number),
		};
	} finally {
		await session.release();
	}
}

// --- Titanic passengers, as the typed API and as V2 rows ---

interface Passenger {
	Pclass: number;
	Sex: keyof typeof SEX_CODE;
	Age: number;
	SibSp: number;
	Parch: number;
	Fare: number;
}

const PASSENGERS: readonly Passenger[] = [
	{ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 },
	{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.2833 },
	{ Pclass: 2, Sex: "female", Age: 4, SibSp: 0, Parch: 2, Fare: 26 },
	{ Pclass: 1, Sex: "male", Age: 54, SibSp: 0, Parch: 0, Fare: 51.8625 },
	{ Pclass: 3, Sex: "female", Age: 0.75, SibSp: 2, Parch: 1, Fare: 19.2583 },
];

const featureRow = (p: Passenger) => [p.Pclass, SEX_CODE[p.Sex], p.Age, p.SibSp, p.Parch, p.Fare];

const featuresRequest = (rows: readonly (readonly number[])[]) => ({
	inputs: [{ name: "features", datatype: "FP32", shape: [rows.length, 6], data: rows.flat() }],
});

// --- identity: edge values of every datatype (float ones exactly representable) ---

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const IDENTITY_VALUES: Record<IdentityDatatype, readonly (number | boolean)[]> = {
	BOOL: [true, false, true],
	UINT8: [0, 1, 255],
	UINT16: [0, 65535],
	UINT32: [0, 4294967295],
	UINT64: [0, MAX_SAFE],
	INT8: [-128, 0, 127],
	INT16: [-32768, 32767],
	INT32: [-2147483648, 0, 2147483647],
	INT64: [-MAX_SAFE, -1, 0, MAX_SAFE],
	FP32: [0.5, Math.fround(0.1), -3.4028234663852886e38, 1.401298464324817e-45],
	FP64: [1e-300, -1.7976931348623157e308, 5e-324, 0.1, Math.PI],
};

const identityTensors = (prefix: "in" | "out") =>
	IDENTITY_DATATYPES.map((datatype) => ({
		name: `${prefix}_${datatype}`,
		datatype,
		shape: [IDENTITY_VALUES[datatype].length],
		data: IDENTITY_VALUES[datatype],
	}));

// --- metrics ---

const httpSeries = (method: string, route: string, status: number) =>
	`http_requests_total{method="${method}",route="${route}",status="${status}"}`;

/** The known sequence of the metrics test, one request after another; each one's status. */
async function metricsSequence(url: string): Promise<number[]> {
	const { count, weight } = MIXED_EXAMPLE;
	const one = mixedRequest(count.slice(0, 1), weight.slice(0, 1), false);
	const three = mixedRequest([...count, count[0]], [...weight, weight[0]], true);
	const [countInput, weightInput] = one.inputs;
	const passenger = PASSENGERS[0] as Passenger;
	const requests: [string, unknown][] = [
		["/v2/models/mixed/infer", mixedRequest(count, weight, true)], // 2 rows
		["/v2/models/mixed/infer", one], // 1 row
		["/v2/models/mixed/versions/1/infer", three], // 3 rows
		["/v2/models/mixed/infer", { inputs: [{ ...countInput, datatype: "FP32" }, weightInput] }],
		["/v2/models/mixed/infer", { inputs: [countInput] }], // weight missing
		["/v2/models/nope/infer", one],
		["/v2/models/gbdt-onnx/infer", featuresRequest([featureRow(passenger)])],
		["/predict/gbdt-onnx", passenger],
		["/predict/gbdt-onnx", PASSENGERS[1]],
	];
	const statuses: number[] = [];
	for (const [path, body] of requests) statuses.push((await post(url, path, body)).status);
	return statuses;
}

/** Per model: successes, failures, rows; every model of the folder, zeros included. */
const EXPECTED_INFERENCES: Record<string, [number, number, number]> = {
	"mlp-onnx": [0, 0, 0],
	"mlp-ts": [0, 0, 0],
	"gbdt-onnx": [3, 0, 3],
	"gbdt-ts": [0, 0, 0],
	identity: [0, 0, 0],
	mixed: [3, 2, 2 + 1 + 3],
	mymodel: [0, 0, 0],
};

function expectedInferenceSeries(): Record<string, number> {
	const expected: Record<string, number> = {};
	for (const [model, [success, failure, rows]] of Object.entries(EXPECTED_INFERENCES)) {
		const m = `model="${model}"`;
		expected[`inference_requests_total{${m},outcome="success"}`] = success;
		expected[`inference_requests_total{${m},outcome="failure"}`] = failure;
		expected[`inference_batch_size_count{${m}}`] = success;
		expected[`inference_batch_size_sum{${m}}`] = rows;
	}
	return expected;
}

const INFERENCE_SERIES = /^(inference_requests_total|inference_batch_size_(count|sum))\{/;

// --- the tests ---

describe.each(RUNTIMES)(
	"%s: one server, Titanic models plus mixed, mymodel, identity",
	(runtime) => {
		const url = serverFor(runtime, { MODELS_DIR: SERVED });

		describe("mixed, a dropped-in model", () => {
			test("metadata describes it exactly, unversioned and versioned", async () => {
				const expected = metadataOf("mixed", MIXED_SPEC);
				for (const path of ["/v2/models/mixed", "/v2/models/mixed/versions/1"]) {
					const answer = await get(url(), path);
					expect({ path, status: answer.status, body: answer.body }).toEqual({
						path,
						status: 200,
						body: expected,
					});
				}
			});

			test("/config is a Triton model config; /ready says ready", async () => {
				const config = await get(url(), "/v2/models/mixed/config");
				expect(config.status).toBe(200);
				expect(config.body).toEqual({
					name: "mixed",
					platform: "onnxruntime_onnx",
					max_batch_size: 0,
					input: [
						{ name: "count", data_type: "TYPE_INT64", dims: [-1, 3] },
						{ name: "weight", data_type: "TYPE_FP64", dims: [-1, 3] },
					],
					output: [
						{ name: "scaled", data_type: "TYPE_FP64", dims: [-1, 3] },
						{ name: "total", data_type: "TYPE_INT64", dims: [-1] },
					],
				});
				const ready = await get(url(), "/v2/models/mixed/ready");
				expect({ status: ready.status, body: ready.body }).toEqual({
					status: 200,
					body: { name: "mixed", ready: true },
				});
			});

			test("infer: flat and nested data give onnxruntime's answer for both outputs", async () => {
				const { count, weight } = MIXED_EXAMPLE;
				const reference = await ortMixed(count, weight);
				for (const nested of [false, true]) {
					const answer = await post(
						url(),
						"/v2/models/mixed/infer",
						mixedRequest(count, weight, nested),
					);
					expect({ nested, status: answer.status }).toEqual({ nested, status: 200 });
					expect(answer.body.model_name).toBe("mixed");
					const scaled = outputOf(answer, "scaled");
					const total = outputOf(answer, "total");
					expect([scaled.datatype, scaled.shape, total.datatype, total.shape]).toEqual([
						"FP64",
						[2, 3],
						"INT64",
						[2],
					]);
					expectClose(scaled.data, reference.scaled, TOLERANCE);
					expectClose(total.data, reference.total, TOLERANCE);
				}
			});

			test("id echoed; outputs [total] answers only total; model_version only on the versioned path", async () => {
				const request = {
					...mixedRequest(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight, false),
					id: "req-7",
				};
				const only = { ...request, outputs: [{ name: "total" }] };
				const plain = await post(url(), "/v2/models/mixed/infer", only);
				expect(plain.status).toBe(200);
				expect(plain.body.id).toBe("req-7");
				expect("model_version" in plain.body).toBe(false);
				expect(plain.body.outputs.map((o: { name: string }) => o.name)).toEqual(["total"]);
				const versioned = await post(url(), "/v2/models/mixed/versions/1/infer", request);
				expect(versioned.status).toBe(200);
				expect([versioned.body.model_version, versioned.body.id]).toEqual(["1", "req-7"]);
				expect(versioned.body.outputs.map((o: { name: string }) => o.name)).toEqual([
					"scaled",
					"total",
				]);
			});

			test("no Content-Type, as Triton's Python client sends, is read as JSON; /predict still needs one", async () => {
				const request = mixedRequest(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight, false);
				const bytes = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));
				const untyped = await call(url(), "/v2/models/mixed/infer", {
					method: "POST",
					body: bytes(request),
				});
				expect(untyped.status).toBe(200);
				expect(untyped.body.model_name).toBe("mixed");
				const typed = await call(url(), "/predict/gbdt-ts", {
					method: "POST",
					body: bytes({ Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 }),
				});
				expect(typed.status).toBe(415);
			});

			test("outputs JSON cannot carry exactly (Infinity, an INT64 beyond 2^53) are a 400 naming them", async () => {
				const infinite = mixedRequest([[2, 0, 1]], [[1e308, 1, 1]], false);
				expectProtocolError(
					await post(url(), "/v2/models/mixed/infer", {
						...infinite,
						outputs: [{ name: "scaled" }],
					}),
					400,
					/output "scaled": element 0 is Infinity/,
				);
				const wide = mixedRequest([[2, 0, MAX_SAFE]], [[1, 1, 1]], false);
				expectProtocolError(
					await post(url(), "/v2/models/mixed/infer", { ...wide, outputs: [{ name: "total" }] }),
					400,
					/output "total": element 0 is 900719925474099\d, beyond/,
				);
			});

			test("version 2 and an unknown model are 404s; the latter lists the known names", async () => {
				const request = mixedRequest(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight, false);
				expectProtocolError(await get(url(), "/v2/models/mixed/versions/2"), 404, /"2"/);
				expectProtocolError(
					await post(url(), "/v2/models/mixed/versions/2/infer", request),
					404,
					/"2"/,
				);
				const known = [...TITANIC_IDS, "identity", "mixed", "mymodel"].map(
					(n) => new RegExp(`\\b${n}\\b`),
				);
				expectProtocolError(await get(url(), "/v2/models/resnet"), 404, /"resnet"/, ...known);
				expectProtocolError(await post(url(), "/v2/models/resnet/infer", request), 404, ...known);
			});
		});

		describe("the spec's example model, as mymodel", () => {
			test("metadata matches the example's tensors", async () => {
				const answer = await get(url(), "/v2/models/mymodel");
				expect(answer.body).toEqual(metadataOf("mymodel", SPEC_EXAMPLE_SPEC));
			});

			test("the example request (data corrected) gets the example response", async () => {
				const answer = await post(url(), "/v2/models/mymodel/infer", SPEC_EXAMPLE_REQUEST);
				expect(answer.status).toBe(200);
				const { outputs, ...rest } = answer.body;
				expect(rest).toEqual({ model_name: "mymodel", id: "42" });
				expect(outputs.map((o: { name: string }) => o.name)).toEqual(["output0"]);
				const output0 = outputOf(answer, "output0");
				expect([output0.datatype, output0.shape]).toEqual(["FP32", [3, 2]]);
				expectClose(output0.data, SPEC_EXAMPLE_OUTPUT0, TOLERANCE);
			});

			test("the example request verbatim (input1 [3] with data [true]) is a 400 naming input1", async () => {
				const [input0, input1] = SPEC_EXAMPLE_REQUEST.inputs;
				const verbatim = { ...SPEC_EXAMPLE_REQUEST, inputs: [input0, { ...input1, data: [true] }] };
				const answer = await post(url(), "/v2/models/mymodel/infer", verbatim);
				expectProtocolError(answer, 400, /input1/, /\b1 element/, /\b3\b/);
			});

			test("server metadata and health", async () => {
				const server = await get(url(), "/v2");
				expect(server.status).toBe(200);
				expect(Object.keys(server.body).sort()).toEqual(["extensions", "name", "version"]);
				expect(server.body.extensions).toEqual([]);
				expect([typeof server.body.name, typeof server.body.version]).toEqual(["string", "string"]);
				const live = await get(url(), "/v2/health/live");
				const ready = await get(url(), "/v2/health/ready");
				expect([live.status, live.body, ready.status, ready.body]).toEqual([
					200,
					{ live: true },
					200,
					{ ready: true },
				]);
			});
		});

		describe("Titanic variants over V2", () => {
			test.each(TITANIC_IDS)("%s: the typed API's probabilities and predictions", async (id) => {
				const typed = await post(url(), `/predict/${id}/batch`, { instances: PASSENGERS });
				expect(typed.status).toBe(200);
				const answer = await post(
					url(),
					`/v2/models/${id}/infer`,
					featuresRequest(PASSENGERS.map(featureRow)),
				);
				expect(answer.status).toBe(200);
				const probability = outputOf(answer, "probability");
				const prediction = outputOf(answer, "prediction");
				const rows = PASSENGERS.length;
				expect([
					probability.datatype,
					probability.shape,
					prediction.datatype,
					prediction.shape,
				]).toEqual(["FP32", [rows], "INT64", [rows]]);
				const expected = typed.body.predictions as { prediction: number; probability: number }[];
				expect(probability.data.every((p) => Math.fround(p) === p)).toBe(true);
				expectClose(
					probability.data,
					expected.map((p) => p.probability),
					TOLERANCE,
				);
				expect(prediction.data).toEqual(expected.map((p) => p.prediction));
			});

			test.each(TITANIC_IDS)(
				"%s: an out-of-range row is a 400 naming the row and fields",
				async (id) => {
					const bad = [4, 2, 30, 0, 0, 10]; // Pclass 4, Sex 2
					const request = featuresRequest([featureRow(PASSENGERS[0] as Passenger), bad]);
					const answer = await post(url(), `/v2/models/${id}/infer`, request);
					expectProtocolError(answer, 400, /\brow 1\b/, /\bPclass\b/, /\bSex\b/);
					expect(answer.body.error).not.toMatch(/\brow 0\b/);
				},
			);
		});

		describe("identity: every datatype round-trips", () => {
			test("edge values of each datatype come back with the same datatype and values", async () => {
				const answer = await post(url(), "/v2/models/identity/infer", {
					inputs: identityTensors("in"),
				});
				expect(answer.status).toBe(200);
				expect(answer.body.outputs).toEqual(identityTensors("out"));
			});
		});
	},
);

describe.each(RUNTIMES)("%s: startup", (runtime) => {
	test.each(REFUSALS)(
		"refuses $file: one line naming it and why, exit 1, never listening",
		async ({ file, dir, reason }) => {
			const result = await runToExit(
				serveCommand(runtime),
				{ PORT: "0", MODELS_DIR: dir },
				STARTUP_MS,
			);
			expectRefusal(runtime, result, `${dir}/${file}`, reason);
		},
	);

	describe("a folder without manifest.json, holding only mixed.onnx", () => {
		const url = serverFor(runtime, { MODELS_DIR: ONLY_MIXED });

		test("serves mixed over V2; the typed API lists no model", async () => {
			const models = await get(url(), "/models");
			expect([models.status, models.body]).toEqual([200, { models: [] }]);
			const metadata = await get(url(), "/v2/models/mixed");
			expect(metadata.body).toEqual(metadataOf("mixed", MIXED_SPEC));
			const request = mixedRequest(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight, false);
			const answer = await post(url(), "/v2/models/mixed/infer", request);
			expect(answer.status).toBe(200);
			const reference = await ortMixed(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight);
			expectClose(outputOf(answer, "total").data, reference.total, TOLERANCE);
			expectProtocolError(await get(url(), "/v2/models/gbdt-onnx"), 404, /"gbdt-onnx"/);
		});
	});
});

describe.each(RUNTIMES)("%s: API_KEY", (runtime) => {
	const url = serverFor(runtime, { MODELS_DIR: SERVED, API_KEY: KEY });

	test("/v2/models/* needs the bearer token; 401s are protocol errors with WWW-Authenticate", async () => {
		const request = mixedRequest(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight, false);
		const refused = [
			await get(url(), "/v2/models/mixed"),
			await get(url(), "/v2/models/mixed", { authorization: "Bearer wrong-key-0123456789" }),
			await get(url(), "/v2/models/mixed/versions/1/ready"),
			await post(url(), "/v2/models/mixed/infer", request),
		];
		for (const answer of refused) {
			expectProtocolError(answer, 401);
			expect(answer.headers.get("www-authenticate")).toStartWith("Bearer ");
		}
		const auth = { authorization: `Bearer ${KEY}` };
		expect((await get(url(), "/v2/models/mixed", auth)).status).toBe(200);
		// The scheme is case-insensitive.
		expect((await get(url(), "/v2/models/mixed", { authorization: `bearer ${KEY}` })).status).toBe(
			200,
		);
		expect((await post(url(), "/v2/models/mixed/infer", request, auth)).status).toBe(200);
	});

	test("/v2 and /v2/health/* stay open", async () => {
		for (const path of ["/v2", "/v2/health/live", "/v2/health/ready"]) {
			const answer = await get(url(), path);
			expect({ path, status: answer.status }).toEqual({ path, status: 200 });
		}
	});
});

describe.each(RUNTIMES)("%s: metrics", (runtime) => {
	const url = serverFor(runtime, { MODELS_DIR: SERVED });

	test("exact inference and HTTP counts after a known sequence of V2 and typed requests", async () => {
		expect(await metricsSequence(url())).toEqual([200, 200, 200, 400, 400, 404, 200, 200, 200]);
		const text = (await get(url(), "/metrics")).body as string;
		const samples = parseSamples(text);
		const inference = [...samples].filter(([series]) => INFERENCE_SERIES.test(series));
		expect(Object.fromEntries(inference)).toEqual(expectedInferenceSeries());
		const http = (route: string, status: number) => samples.get(httpSeries("POST", route, status));
		expect({
			infer200: http("/v2/models/:model/infer", 200),
			infer400: http("/v2/models/:model/infer", 400),
			infer404: http("/v2/models/:model/infer", 404),
			versioned200: http("/v2/models/:model/versions/:version/infer", 200),
			predict200: http("/predict/:model", 200),
		}).toEqual({ infer200: 3, infer400: 2, infer404: 1, versioned200: 1, predict200: 2 });
		expect(text).not.toContain('model="nope"');
	});
});
