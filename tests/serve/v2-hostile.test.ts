import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modelsDirWith } from "../support/model-dirs.ts";
import { MIXED_EXAMPLE, mixedExpected, mixedModel } from "../support/onnx-models.ts";
import { rawLargePost, rawRequest } from "../support/raw-http.ts";
import {
	RUNTIMES,
	type RunningServer,
	type Runtime,
	startServer,
	waitReady,
} from "../support/server.ts";

/**
 * Hostile Open Inference Protocol ("V2") requests against the real server on Node, Bun and Deno.
 * Each server serves a models folder holding the Titanic manifest and `mixed.onnx` (INT64 `count`
 * [-1, 3] and FP64 `weight` [-1, 3]), with small limits so the size cases stay cheap:
 * V2_MAX_BODY_BYTES = 512 KiB (a 100,000-deep nested array, 200 KB, still fits) and
 * V2_MAX_ELEMENTS = 3000 (1000 rows of one input, 500 rows of both).
 *
 * Every case must be answered with its 4xx status (never a 5xx, never a hang), as
 * `application/json` holding exactly `{"error": "<non-empty string>"}`, naming what is wrong where
 * that is cheap to check (`mentions`), with no stack trace or internal path. After all of them the
 * server is ready and a valid request gets the right answer.
 */

const BODY_LIMIT = 512 * 1024;
const ELEMENT_LIMIT = 3000;
const MODEL = "mixed";
const INFER = `/v2/models/${MODEL}/infer`;
const JSON_TYPE = { "content-type": "application/json" };
/** Long enough for any slow machine; only a hang reaches it. */
const HANG_MS = 20_000;

interface Reply {
	status: number | null;
	headers: Record<string, string>;
	body: string;
}
type Send = (base: string) => Promise<Reply>;

type Mention = string | readonly string[];

interface Case {
	name: string;
	send: Send;
	status: 400 | 404 | 405 | 413 | 415;
	/** Substrings the error message must contain (case-sensitive); a list: any one of them. */
	mentions?: readonly Mention[];
	/** The Allow header of a 405. */
	allow?: string;
}

// --- Requests ----------------------------------------------------------------------------------

interface Input {
	name: unknown;
	shape: unknown;
	datatype: unknown;
	data: unknown;
	parameters?: unknown;
}

/** The reference inputs: two rows; counts beyond int32 and below zero. */
const count = (over: Partial<Input> = {}): Input => ({
	name: "count",
	shape: [2, 3],
	datatype: "INT64",
	data: MIXED_EXAMPLE.count,
	...over,
});
const weight = (over: Partial<Input> = {}): Input => ({
	name: "weight",
	shape: [2, 3],
	datatype: "FP64",
	data: MIXED_EXAMPLE.weight,
	...over,
});

const VALID = { inputs: [count(), weight()] };

async function viaFetch(base: string, path: string, init: RequestInit): Promise<Reply> {
	const response = await fetch(`${base}${path}`, {
		redirect: "manual",
		signal: AbortSignal.timeout(HANG_MS),
		...init,
	});
	return {
		status: response.status,
		headers: Object.fromEntries(response.headers),
		body: await response.text(),
	};
}

/** POSTs `body` (a value to serialise, or text or bytes sent as they are) to `path`. */
const post =
	(body: unknown, path = INFER, headers: Record<string, string> = JSON_TYPE): Send =>
	(base) =>
		viaFetch(base, path, {
			method: "POST",
			headers,
			body:
				typeof body === "string" || body instanceof Uint8Array
					? (body as string | Uint8Array<ArrayBuffer>)
					: JSON.stringify(body),
		});

/** The reference request with its inputs (and other fields) replaced. */
const withInputs = (inputs: unknown[], extra: Record<string, unknown> = {}) =>
	post({ inputs, ...extra });

/** JSON text with the count input's data spliced in as raw text (what JSON.stringify cannot say). */
const rawCountData = (dataText: string, shape = "[2, 3]") =>
	`{"inputs":[{"name":"count","shape":${shape},"datatype":"INT64","data":${dataText}},` +
	`${JSON.stringify(weight())}]}`;

const rawTimeout = { timeoutMs: HANG_MS };

const large =
	(total: number, framing: "chunked" | "content-length"): Send =>
	(base) =>
		rawLargePost(base, INFER, total, { framing, ...rawTimeout });

// --- The cases ---------------------------------------------------------------------------------

const cases: Case[] = [];
const add = (
	name: string,
	send: Send,
	status: Case["status"],
	mentions: readonly Mention[] = [],
	allow?: string,
) => cases.push({ name, send, status, mentions, allow });

/**
 * A 400 for the reference request with `count` (or `weight`) replaced; the message says which
 * input is wrong, by its name or, for what the envelope's schema refuses, by its place.
 */
const badCount = (name: string, over: Partial<Input>, mentions: readonly Mention[] = []) =>
	add(name, withInputs([count(over), weight()]), 400, [['"count"', "inputs.0"], ...mentions]);
const badWeight = (name: string, over: Partial<Input>, mentions: readonly Mention[] = []) =>
	add(name, withInputs([count(), weight(over)]), 400, [['"weight"', "inputs.1"], ...mentions]);

// Shapes
badCount("shape product != data length", { shape: [2, 3], data: [1, 2, 3, 4, 5] }, ["5 elements"]);
badCount("shape product > data length (nested rows, shape says 3 rows)", { shape: [3, 3] }, [
	"dimension 0",
]);
badCount("shape of the wrong rank", { shape: [6], data: [1, 2, 3, 4, 5, 6] }, ["dimensions"]);
badCount("shape of rank 3", { shape: [2, 3, 1] }, ["dimensions"]);
badCount("fixed dimension wrong", { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] }, ["dimension 1"]);
badCount("negative dimension", { shape: [-1, 3], data: [1, 2, 3] }, ["dimension 0"]);
badCount("zero dimension", { shape: [0, 3], data: [] }, ["dimension 0"]);
badCount("fractional dimension", { shape: [1.5, 3], data: [1, 2, 3] }, ["dimension 0"]);
badCount("shape [1e9, 3]: refused before allocating", { shape: [1e9, 3], data: [1, 2, 3] }, [
	"exceeds the limit",
]);
badCount("shape [1e9, 1e9]", { shape: [1e9, 1e9], data: [1] }, ["exceeds the limit"]);
badCount("shape [2^53 + 2, 3]", { shape: [2 ** 53 + 2, 3], data: [1] }, ["exceeds the limit"]);
add(
	"a dimension of 1e309 (Infinity once parsed)",
	post(rawCountData("[1,2,3]", "[1e309, 3]")),
	400,
	["shape"],
);
badCount("shape not an array", { shape: "2,3" }, ["shape"]);
badCount("shape of strings", { shape: ["2", "3"] }, ["shape"]);
badCount("shape null", { shape: null }, ["shape"]);
badCount("shape missing", { shape: undefined }, ["shape"]);

// Datatypes
badCount("wrong datatype for the input (FP64 for INT64)", { datatype: "FP64" }, ["FP64", "INT64"]);
badCount('unknown datatype "FP8"', { datatype: "FP8" }, ["FP8"]);
badCount('"BYTES" (not served)', { datatype: "BYTES" }, ["BYTES"]);
badCount('lower-case "int64"', { datatype: "int64" }, ["int64", "INT64"]);
badCount("datatype a number", { datatype: 64 }, ["datatype"]);

// Values
badCount("a string in INT64 data", { data: [1, "2", 3, 4, 5, 6] }, ["element 1", "INT64"]);
badCount("1.5 in INT64 data", { data: [1, 1.5, 3, 4, 5, 6] }, ["element 1", "1.5"]);
badCount("null in INT64 data", { data: [1, 2, null, 4, 5, 6] }, ["element 2", "null"]);
add("NaN as text (not JSON)", post(rawCountData("[1,2,NaN,4,5,6]")), 400, ["JSON"]);
add("Infinity as text (not JSON)", post(rawCountData("[1,2,Infinity,4,5,6]")), 400, ["JSON"]);
badWeight('"NaN" as a string in FP64 data', { data: [0.1, "NaN", 1, 2, 3, 4] }, ["element 1"]);
add("2^63 in INT64 data", post(rawCountData("[9223372036854775808,2,3,4,5,6]")), 400, [
	'"count"',
	"element 0",
]);
badCount("2^53 in INT64 data (not exact)", { data: [2 ** 53, 2, 3, 4, 5, 6] }, ["element 0"]);
badCount(
	"a nested object in the data",
	{
		data: [
			[{ value: 1 }, 2, 3],
			[4, 5, 6],
		],
	},
	["element 0"],
);
badWeight("booleans in FP64 data", { data: [true, false, 1, 2, 3, 4] }, ["element 0", "FP64"]);
badWeight("null in FP64 data", { data: [0.5, null, 1, 2, 3, 4] }, ["element 1"]);
add(
	"1e309 in FP64 data (Infinity once parsed)",
	post(
		`{"inputs":[${JSON.stringify(count())},` +
			'{"name":"weight","shape":[2,3],"datatype":"FP64","data":[1e309,0,0,0,0,0]}]}',
	),
	400,
	['"weight"', "element 0"],
);
badCount("data not an array", { data: 42 }, ["data"]);
badCount("data missing", { data: undefined }, ["data"]);

// Names
add("an unknown input", withInputs([count(), weight(), count({ name: "bias" })]), 400, [
	'"bias"',
	"count",
	"weight",
]);
add("a missing input", withInputs([count()]), 400, ['"weight"']);
add("the same input twice", withInputs([count(), weight(), count()]), 400, ['"count"', "twice"]);
add("an input named __proto__", withInputs([count({ name: "__proto__" }), weight()]), 400, [
	"__proto__",
]);
add("an empty input name", withInputs([count({ name: "" }), weight()]), 400, ['""']);
// Which input: "name must be a string" alone could be any input's, or a requested output's.
add("an input name that is not a string", withInputs([count({ name: 7 }), weight()]), 400, [
	"inputs.0",
]);
add(
	"an unknown requested output",
	withInputs([count(), weight()], { outputs: [{ name: "nope" }] }),
	400,
	['"nope"', "scaled", "total"],
);
add(
	"the same output requested twice",
	withInputs([count(), weight()], { outputs: [{ name: "total" }, { name: "total" }] }),
	400,
	['"total"', "twice"],
);
add(
	"an empty requested output name",
	withInputs([count(), weight()], { outputs: [{ name: "" }] }),
	400,
	['""'],
);
add("outputs an empty list", withInputs([count(), weight()], { outputs: [] }), 400, [
	"outputs must name at least one output",
]);
add("outputs not an array", withInputs([count(), weight()], { outputs: "total" }), 400, [
	"outputs",
]);
add("a requested output without a name", withInputs([count(), weight()], { outputs: [{}] }), 400, [
	"outputs.0",
]);

// Nesting
badCount(
	"ragged rows",
	{
		data: [
			[1, 2, 3, 4],
			[5, 6],
		],
	},
	["dimension 1"],
);
badCount(
	"a short row",
	{
		data: [
			[1, 2, 3],
			[4, 5],
		],
	},
	["dimension 1"],
);
badCount(
	"data nested deeper than the shape",
	{
		data: [
			[[1], [2], [3]],
			[[4], [5], [6]],
		],
	},
	["deeper"],
);
badCount("a value where the shape needs a row", { data: [[1, 2, 3], 4] }, ["array"]);
{
	const depth = 100_000;
	const deep = `${"[".repeat(depth)}1${"]".repeat(depth)}`;
	add(`a ${depth.toLocaleString("en")}-deep nested array`, post(rawCountData(deep, "[1, 3]")), 400);
	add(
		`a ${depth.toLocaleString("en")}-deep array as the whole body`,
		post(`${"[".repeat(depth)}${"]".repeat(depth)}`),
		400,
	);
}

// Sizes
add(
	"a body over V2_MAX_BODY_BYTES, with Content-Length",
	large(BODY_LIMIT + 1, "content-length"),
	413,
	[String(BODY_LIMIT)],
);
add("a body over V2_MAX_BODY_BYTES, chunked", large(BODY_LIMIT + 64 * 1024, "chunked"), 413, [
	String(BODY_LIMIT),
]);
{
	const rows = (n: number, value: number) => Array.from({ length: n }, () => [value, value, value]);
	const over = ELEMENT_LIMIT / 3 + 1;
	add(
		"one input over V2_MAX_ELEMENTS",
		withInputs([
			count({ shape: [over, 3], data: rows(over, 1) }),
			weight({ shape: [over, 3], data: rows(over, 0.5) }),
		]),
		400,
		['"count"', String(ELEMENT_LIMIT)],
	);
	// Each input is within the limit; together they are not. The limit named must be the
	// request's, not what was left of it after the first input.
	const half = ELEMENT_LIMIT / 6 + 100;
	add(
		"two inputs together over V2_MAX_ELEMENTS",
		withInputs([
			count({ shape: [half, 3], data: rows(half, 1) }),
			weight({ shape: [half, 3], data: rows(half, 0.5) }),
		]),
		400,
		['"weight"', String(ELEMENT_LIMIT)],
	);
}

// Envelope
add("a body that is not JSON", post('{"inputs": [{"name": "count",'), 400, ["JSON"]);
add("an empty body", post(""), 400, ["empty"]);
add("a JSON array", post([count(), weight()]), 400, ["object"]);
add("JSON null", post("null"), 400, ["object"]);
add("inputs not an array", post({ inputs: { count: count() } }), 400, ["inputs"]);
add("inputs: []", post({ inputs: [] }), 400, ["inputs"]);
add("no inputs at all", post({ id: "x" }), 400, ["inputs"]);
add("an input that is not an object", withInputs([count(), 42]), 400, ["input"]);
add("id a number", post({ ...VALID, id: 7 }), 400, ["id"]);
add("parameters an array", post({ ...VALID, parameters: [1, 2] }), 400, ["parameters"]);
add("a parameter holding an object", post({ ...VALID, parameters: { a: { b: 1 } } }), 400, [
	"parameters",
]);
add("invalid UTF-8", post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 400);
add("wrong Content-Type", post(VALID, INFER, { "content-type": "text/plain" }), 415, [
	"Content-Type",
]);
add(
	"a charset other than utf-8",
	post(VALID, INFER, { "content-type": "application/json; charset=latin1" }),
	415,
	["Content-Type"],
);
// No Content-Type is read as JSON on /v2 (Triton's Python client sends none): {} lacks inputs.
add(
	"no Content-Type, and no inputs",
	(base) =>
		rawRequest(
			base,
			`POST ${INFER} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
			rawTimeout,
		),
	400,
	["inputs"],
);
add(
	"a gzip Content-Encoding",
	post(VALID, INFER, { "content-type": "application/json", "content-encoding": "gzip" }),
	415,
	["Content-Encoding"],
);
add(
	"PUT on infer",
	(base) =>
		viaFetch(base, INFER, { method: "PUT", headers: JSON_TYPE, body: JSON.stringify(VALID) }),
	405,
	[],
	"POST",
);
add("GET on infer", (base) => viaFetch(base, INFER, { method: "GET" }), 405, [], "POST");
add(
	"DELETE on a model",
	(base) => viaFetch(base, `/v2/models/${MODEL}`, { method: "DELETE" }),
	405,
	[],
	"GET, HEAD",
);

// Paths
add("an unknown model", post(VALID, "/v2/models/nope/infer"), 404, ['"nope"', MODEL]);
add("version 2", post(VALID, `/v2/models/${MODEL}/versions/2/infer`), 404, ['"2"']);
add("version 01", post(VALID, `/v2/models/${MODEL}/versions/01/infer`), 404, ['"01"']);
add(
	"a bad tensor on the versioned path",
	post({ inputs: [count({ shape: [6] }), weight()] }, `/v2/models/${MODEL}/versions/1/infer`),
	400,
	['"count"'],
);
add(
	"/v2/models/..%2Fmanifest.json/infer",
	post(VALID, "/v2/models/..%2Fmanifest.json/infer"),
	404,
	["manifest.json"],
);
add("a model name of 65 characters", post(VALID, `/v2/models/${"m".repeat(65)}/infer`), 404, [
	"unknown model",
]);
add(
	"a model name of 10,000 characters",
	post(VALID, `/v2/models/${"m".repeat(10_000)}/infer`),
	404,
);
add("a percent-encoded NUL as the model", post(VALID, "/v2/models/%00/infer"), 404);
add("GET an unknown model's metadata", (base) => viaFetch(base, "/v2/models/nope", {}), 404, [
	'"nope"',
]);
add("an unknown /v2 route", post(VALID, `/v2/models/${MODEL}/infer/extra`), 404);

// Binary data
add(
	"parameters.binary_data_size on an input",
	withInputs([count({ parameters: { binary_data_size: 48 } }), weight()]),
	400,
	['"count"', "binary"],
);
add(
	"binary_data_size with no data",
	withInputs([count({ parameters: { binary_data_size: 48 }, data: undefined }), weight()]),
	400,
	[['"count"', "inputs.0"]],
);

// Two inputs whose batch sizes the graph cannot combine: onnxruntime refuses, a 400.
add(
	"count and weight with different batch sizes",
	withInputs([count(), weight({ shape: [3, 3], data: [...MIXED_EXAMPLE.weight.flat(), 1, 2, 3] })]),
	400,
	[MODEL],
);

// --- Checks ------------------------------------------------------------------------------------

/**
 * A stack frame, an absolute source path or a dependency path: never in a response. That
 * includes onnxruntime's own source locations (`/onnxruntime_src/...element_wise_ops.h:583`).
 */
const LEAKS = [
	/^\s*at\s/m,
	/\bat \S+ \(/,
	/\/work\b/,
	/\.ts:\d/,
	/node_modules/,
	/file:\/\//,
	/onnxruntime_src/,
	/\.(?:h|cc|cpp):\d/,
];

/** Everything wrong with a reply, as readable lines (empty when all is well). */
function problems(testCase: Case, reply: Reply): string[] {
	const found: string[] = [];
	if (reply.status === null) return [`no answer within ${HANG_MS} ms`];
	if (reply.status !== testCase.status) {
		found.push(`status ${reply.status}, expected ${testCase.status}: ${reply.body.slice(0, 300)}`);
	}
	if (testCase.allow !== undefined && reply.headers.allow !== testCase.allow) {
		found.push(`Allow ${JSON.stringify(reply.headers.allow)}, expected ${testCase.allow}`);
	}
	if (!/^application\/json\b/.test(reply.headers["content-type"] ?? "")) {
		found.push(`content-type ${JSON.stringify(reply.headers["content-type"])}`);
	}
	for (const leak of LEAKS) {
		if (leak.test(reply.body)) found.push(`body matches ${leak}: ${reply.body.slice(0, 300)}`);
	}
	let body: unknown;
	try {
		body = JSON.parse(reply.body);
	} catch {
		return [...found, `body is not JSON: ${reply.body.slice(0, 300)}`];
	}
	const keys = body !== null && typeof body === "object" ? Object.keys(body) : [];
	const error = (body as { error?: unknown } | null)?.error;
	if (keys.length !== 1 || keys[0] !== "error" || typeof error !== "string" || error === "") {
		return [...found, `not {"error": "<message>"}: ${reply.body.slice(0, 300)}`];
	}
	for (const mention of testCase.mentions ?? []) {
		const words = typeof mention === "string" ? [mention] : mention;
		if (!words.some((word) => error.includes(word))) {
			found.push(`message ${JSON.stringify(error)} lacks ${words.join(" or ")}`);
		}
	}
	return found;
}

interface InferResponse {
	model_name: string;
	outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
}

/** Everything wrong with the answer to the reference request. */
async function validInferProblems(base: string): Promise<string[]> {
	const reply = await post(VALID)(base);
	if (reply.status !== 200) return [`valid infer: status ${reply.status}: ${reply.body}`];
	const body = JSON.parse(reply.body) as InferResponse;
	const expected = mixedExpected(MIXED_EXAMPLE.count, MIXED_EXAMPLE.weight);
	const byName = Object.fromEntries(body.outputs.map((o) => [o.name, o]));
	const found: string[] = [];
	if (body.model_name !== MODEL) found.push(`model_name ${body.model_name}`);
	const total = byName.total;
	if (total?.datatype !== "INT64" || JSON.stringify(total.shape) !== "[2]") {
		found.push(`total ${JSON.stringify(total)}`);
	} else if (JSON.stringify(total.data) !== JSON.stringify(expected.total)) {
		found.push(`total ${JSON.stringify(total.data)}, expected ${JSON.stringify(expected.total)}`);
	}
	const scaled = byName.scaled;
	const want = expected.scaled.flat();
	if (scaled?.datatype !== "FP64" || JSON.stringify(scaled.shape) !== "[2,3]") {
		found.push(`scaled ${JSON.stringify(scaled)}`);
	} else {
		const data = scaled.data.flat(2) as number[];
		const close = want.every((w, i) => Math.abs((data[i] as number) - w) <= 1e-9 * Math.abs(w));
		if (data.length !== want.length || !close) {
			found.push(`scaled ${JSON.stringify(scaled.data)}, expected ${JSON.stringify(want)}`);
		}
	}
	return found;
}

// --- The servers -------------------------------------------------------------------------------

const modelsDir = modelsDirWith({ "mixed.onnx": mixedModel() });
const servers = new Map<Runtime, RunningServer>();
const server = (runtime: Runtime) => servers.get(runtime) as RunningServer;

beforeAll(async () => {
	const env = {
		MODELS_DIR: modelsDir,
		V2_MAX_BODY_BYTES: String(BODY_LIMIT),
		V2_MAX_ELEMENTS: String(ELEMENT_LIMIT),
	};
	const started = await Promise.allSettled(RUNTIMES.map((r) => startServer(r, env, 60_000)));
	for (const [i, runtime] of RUNTIMES.entries()) {
		const result = started[i] as PromiseSettledResult<RunningServer>;
		if (result.status === "fulfilled") servers.set(runtime, result.value);
	}
	const failed = started.find((s) => s.status === "rejected");
	if (failed) throw (failed as PromiseRejectedResult).reason;
	await Promise.all([...servers.values()].map((s) => waitReady(s.url, 60_000)));
}, 120_000);

afterAll(async () => {
	await Promise.all([...servers.values()].map((s) => s.stop()));
});

test("at least 30 distinct hostile V2 requests, uniquely named", () => {
	expect(cases.length).toBeGreaterThanOrEqual(30);
	expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

for (const runtime of RUNTIMES) {
	describe(`V2 hostile requests on ${runtime}`, () => {
		test("the reference request is answered correctly first", async () => {
			expect(await validInferProblems(server(runtime).url)).toEqual([]);
		});

		for (const testCase of cases) {
			test(testCase.name, async () => {
				const reply = await testCase.send(server(runtime).url);
				expect(problems(testCase, reply)).toEqual([]);
			}, 30_000);
		}

		test("afterwards: ready, still right, alive, and nothing logged as unhandled", async () => {
			const { url, process: child } = server(runtime);
			const ready = await viaFetch(url, "/v2/health/ready", {});
			expect({ status: ready.status, body: ready.body }).toEqual({
				status: 200,
				body: '{"ready":true}',
			});
			expect(await validInferProblems(url)).toEqual([]);
			expect(child.exitCode).toBeNull();
			const unhandled = server(runtime)
				.stderr()
				.split("\n")
				.filter((line) => /unhandled error|internal error/i.test(line));
			expect(unhandled).toEqual([]);
		});
	});
}
