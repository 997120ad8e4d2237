import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rawLargePost, rawRequest } from "../support/raw-http.ts";
import { RUNTIMES, type RunningServer, type Runtime, startAllRuntimes } from "../support/server.ts";

/**
 * Hostile input against the real server on Node, Bun and Deno (issue 5). Every case is sent to
 * the three runtimes at once and checked for: the documented status; a JSON error envelope with
 * the expected `error.code` (or a well-formed prediction for inputs that are, on reflection,
 * valid); no stack trace or internal path in the body; the same status on every runtime where the
 * app handles the request; and a valid prediction on the same runtime right afterwards.
 *
 * Requests the app never sees (the runtime's HTTP parser rejects them: bad request line, invalid
 * Content-Length, huge headers, garbage) are "transport" cases: only the status is checked, per
 * runtime where the HTTP layers differ, and it must not be a 5xx, except Bun's 505 for an
 * unparsable request line (its HTTP parser's answer, documented below).
 *
 * Decisions worth knowing, each asserted below:
 * - `-0` is JSON.parse's negative zero: valid for SibSp, Parch and Fare (it equals 0, within the
 *   ranges), invalid for Pclass (below 1) and Age (not > 0).
 * - Duplicate keys: JSON.parse keeps the last one, so {"Pclass":9,...,"Pclass":3} is Pclass 3 and
 *   accepted, while {"Pclass":3,...,"Pclass":9} is rejected; the same on every runtime.
 * - A UTF-8 BOM is accepted: the server decodes with TextDecoder("utf-8"), which strips a leading
 *   BOM (WHATWG Encoding; RFC 8259 lets a parser ignore it), before JSON.parse.
 * - 1e309 and -1e309 are valid JSON that parse to ±Infinity; the schema rejects them
 *   (invalid_request), while the spellings NaN, Infinity, nan, inf are not JSON (malformed_json).
 * - `%2D` in the model segment is percent-decoded by the router (`gbdt%2Donnx` is gbdt-onnx).
 */

const MODELS = ["mlp-onnx", "mlp-ts", "gbdt-onnx", "gbdt-ts"] as const;
type Model = (typeof MODELS)[number];

const FIELDS: ReadonlyArray<readonly [string, string]> = [
	["Pclass", "3"],
	["Sex", '"male"'],
	["Age", "22"],
	["SibSp", "1"],
	["Parch", "0"],
	["Fare", "7.25"],
];

/** The reference passenger's JSON text, with fields replaced by raw JSON text (null drops one). */
function passengerText(
	over: Record<string, string | null> = {},
	extra: ReadonlyArray<readonly [string, string]> = [],
): string {
	const entries = FIELDS.flatMap(([key, value]) => {
		const raw = key in over ? over[key] : value;
		return raw === null || raw === undefined ? [] : [`"${key}":${raw}`];
	});
	return `{${[...entries, ...extra.map(([k, v]) => `"${k}":${v}`)].join(",")}}`;
}

const VALID = passengerText();
const JSON_TYPE = { "content-type": "application/json" };
const KiB = 1024;
const MiB = 1024 * KiB;

interface Reply {
	status: number | null;
	headers: Record<string, string>;
	body: string;
}

type Send = (base: string) => Promise<Reply>;

async function viaFetch(base: string, path: string, init: RequestInit): Promise<Reply> {
	const response = await fetch(`${base}${path}`, { redirect: "manual", ...init });
	return {
		status: response.status,
		headers: Object.fromEntries(response.headers),
		body: await response.text(),
	};
}

/** POST through fetch (which always sends a Content-Length for these bodies). */
const post =
	(
		path: string,
		body: string | Uint8Array<ArrayBuffer>,
		headers: Record<string, string> = JSON_TYPE,
	): Send =>
	(base) =>
		viaFetch(base, path, { method: "POST", headers, body });

const call =
	(method: string, path: string, body?: string): Send =>
	(base) =>
		viaFetch(base, path, { method, headers: body ? JSON_TYPE : {}, body });

/** A request written byte for byte on a socket, for what fetch would normalise or refuse. */
const raw =
	(
		request: string | Uint8Array<ArrayBuffer>,
		options: Parameters<typeof rawRequest>[2] = {},
	): Send =>
	(base) =>
		rawRequest(base, request, { timeoutMs: 3000, ...options });

/** An otherwise well-formed POST whose request target is sent exactly as given. */
const rawPost = (
	target: string,
	body = VALID,
	contentType: string | null = "application/json",
	extraHeaders = "",
) =>
	raw(
		`POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extraHeaders}` +
			(contentType === null ? "" : `Content-Type: ${contentType}\r\n`) +
			`Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
	);

const large =
	(path: string, total: number, framing: "chunked" | "content-length"): Send =>
	(base) =>
		rawLargePost(base, path, total, { framing, timeoutMs: 10_000 });

/** Content-Length promises more than is sent; then the client half-closes (FIN) or resets. */
const truncatedBody =
	(how: "half-close" | "reset"): Send =>
	(base) =>
		rawRequest(
			base,
			"POST /predict/gbdt-onnx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
				'Content-Length: 100\r\n\r\n{"Pclass":3',
			how === "half-close"
				? { endAfterWrite: true, timeoutMs: 3000 }
				: { destroyAfterWrite: true, timeoutMs: 3000 },
		);

type PerRuntime<T> = Record<Runtime, T>;

interface Case {
	name: string;
	send: Send;
	/**
	 * The expected status: one number for every runtime (the app answers, so the runtimes must
	 * agree), one per runtime where the HTTP layer legitimately differs (null: no answer at all),
	 * or "no-5xx": any status below 500, or no answer.
	 */
	status: number | PerRuntime<number | null> | "no-5xx";
	/** error.code of the JSON envelope; "prediction" for a 200; omitted for transport answers. */
	code?: string | PerRuntime<string>;
	/** The exact `issues[].path` list, for invalid_request. */
	issues?: string[];
	/** The Allow header of a 405. */
	allow?: string;
	/** For a 200: the model and the passenger whose prediction it must equal exactly. */
	model?: Model;
	equivalent?: string;
	/** An extra check of the parsed body. */
	check?: (body: unknown) => void;
	/** Tolerated 5xx per runtime (only Bun's parser 505, see the cases). */
	allow5xx?: Partial<PerRuntime<number>>;
}

const cases: Case[] = [];
let modelTurn = 0;
/** Spreads body cases over the four models. */
const nextModel = (): Model => MODELS[modelTurn++ % MODELS.length] as Model;

function rejected(
	name: string,
	body: string | Uint8Array<ArrayBuffer>,
	code: string,
	issues?: string[],
) {
	const model = nextModel();
	cases.push({ name, send: post(`/predict/${model}`, body), status: 400, code, issues });
}
const malformed = (name: string, body: string | Uint8Array<ArrayBuffer>) =>
	rejected(name, body, "malformed_json");
const invalid = (name: string, body: string, issues: string[]) =>
	rejected(name, body, "invalid_request", issues);
/** One field set to raw JSON text; the only issue is that field. */
const badField = (field: string, value: string) =>
	invalid(`${field} = ${value}`, passengerText({ [field]: value }), [field]);
function accepted(name: string, send: (model: Model) => Send, equivalent?: string) {
	const model = nextModel();
	cases.push({ name, send: send(model), status: 200, code: "prediction", model, equivalent });
}
/** A 200 whose probability must equal exactly that of `equivalent`, when given. */
const acceptedBody = (name: string, body: string | Uint8Array<ArrayBuffer>, equivalent?: string) =>
	accepted(name, (model) => post(`/predict/${model}`, body), equivalent);

// --- Malformed and truncated JSON, empty bodies ---------------------------------------------
malformed("empty body", "");
malformed("whitespace-only body", " \r\n\t ");
malformed("truncated inside a string", VALID.slice(0, 22));
malformed("truncated after a comma", `${VALID.slice(0, -6)},`);
malformed("missing the closing brace", VALID.slice(0, -1));
malformed("single-quoted keys", VALID.replaceAll('"', "'"));
malformed("unquoted keys", VALID.replace(/"(\w+)":/g, "$1:"));
malformed("trailing comma", `${VALID.slice(0, -1)},}`);
malformed("a comment before the object", `// passenger\n${VALID}`);
malformed("two objects back to back", `${VALID}${VALID}`);
malformed("10,000 unclosed arrays", "[".repeat(10_000));

// --- A JSON value that is not an object -------------------------------------------------------
const notAnObject = [{ path: "", message: "a passenger must be a JSON object of the six fields" }];
for (const [name, body] of [
	["a JSON array of a passenger", `[${VALID}]`],
	["a JSON string", '"Pclass=3"'],
	["a JSON number", "42"],
	["JSON null", "null"],
	["JSON true", "true"],
] as const) {
	const model = nextModel();
	cases.push({
		name,
		send: post(`/predict/${model}`, body),
		status: 400,
		code: "invalid_request",
		check: (b) => expect((b as { error: { issues: unknown } }).error.issues).toEqual(notAnObject),
	});
}
invalid("an empty object lists every required field", "{}", [
	"Pclass",
	"Sex",
	"SibSp",
	"Parch",
	"Fare",
]);

// --- Wrong types and values for each field ---------------------------------------------------
for (const value of ['"3"', "1.5", "0", "4", "true", "null", "[3]", "{}"])
	badField("Pclass", value);
for (const value of ['"Male"', '"FEMALE"', '" male"', '"m"', '"male\\u0000"', "1", "null", "[]"]) {
	badField("Sex", value);
}
badField("Sex", '"\\ud800"'); // a lone surrogate: valid JSON, not a valid Sex
for (const value of ['"22"', "0", "-1", "120.0001", "[]", "{}", "true"]) badField("Age", value);
for (const value of ['"1"', "-1", "21", "1.5", "null", "1e3"]) badField("SibSp", value);
for (const value of ['"0"', "-1", "21", "0.5", "null", "false"]) badField("Parch", value);
for (const value of ['"7.25"', "-0.01", "10000.01", "null", "false", "1e308"]) {
	badField("Fare", value);
}
invalid(
	"every field wrong at once",
	passengerText({
		Pclass: "0",
		Sex: '"M"',
		Age: "200",
		SibSp: "-1",
		Parch: "1.5",
		Fare: '"1"',
	}),
	["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare"],
);

// --- NaN and the infinities, every spelling ---------------------------------------------------
for (const spelling of ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity"]) {
	malformed(`Age = ${spelling} (not JSON)`, passengerText({ Age: spelling }));
}
for (const spelling of ['"NaN"', '"Infinity"', '"-Infinity"']) badField("Fare", spelling);
badField("Age", "1e309"); // JSON.parse gives Infinity
badField("Fare", "-1e309"); // -Infinity
badField("Pclass", "1e309");
// Number syntaxes JSON does not have.
for (const spelling of ["0x3", "+3", "03", ".5", "3.", "1_000"]) {
	malformed(`Pclass = ${spelling} (not JSON)`, passengerText({ Pclass: spelling }));
}

// --- -0, tiny and rounding-to-valid numbers ----------------------------------------------------
acceptedBody(
	"SibSp = -0 is 0, valid",
	passengerText({ SibSp: "-0" }),
	passengerText({ SibSp: "0" }),
);
acceptedBody("Parch = -0 is 0, valid", passengerText({ Parch: "-0" }), VALID);
acceptedBody("Fare = -0 is 0, valid", passengerText({ Fare: "-0" }), passengerText({ Fare: "0" }));
badField("Pclass", "-0");
badField("Age", "-0"); // -0 is not > 0
badField("Age", "0e10");
acceptedBody(
	"Age = 5e-324 (the smallest double, > 0) is valid",
	passengerText({ Age: "5e-324" }),
	passengerText({ Age: "0.000001" }),
);
acceptedBody(
	"Pclass = 3.0000000000000001 parses to exactly 3, valid",
	passengerText({ Pclass: "3.0000000000000001" }),
	VALID,
);
acceptedBody(
	"Pclass = 3e0 and Fare = 725e-2 are plain numbers",
	passengerText({ Pclass: "3e0", Fare: "725e-2" }),
	VALID,
);
acceptedBody(
	"the bounds: Age 120, SibSp 20, Parch 20, Fare 10000",
	passengerText({
		Age: "120",
		SibSp: "20",
		Parch: "20",
		Fare: "10000",
	}),
);

// --- Missing, null and extra fields --------------------------------------------------------------
invalid("Sex missing", passengerText({ Sex: null }), ["Sex"]);
invalid("Fare missing", passengerText({ Fare: null }), ["Fare"]);
acceptedBody(
	"Age missing is imputed",
	passengerText({ Age: null }),
	passengerText({ Age: "null" }),
);
acceptedBody(
	"Age null is imputed with the training median, 29",
	passengerText({ Age: "null" }),
	passengerText({ Age: "29" }),
);
invalid("an extra field (a misspelt age)", passengerText({}, [["age", "22"]]), ["age"]);
invalid("a __proto__ key", passengerText({}, [["__proto__", '{"Pclass":1}']]), ["__proto__"]);
invalid("a constructor key", passengerText({}, [["constructor", '{"prototype":{}}']]), [
	"constructor",
]);
{
	const extra = Array.from({ length: 3000 }, (_, i) => [`x${i}`, "0"] as const);
	invalid(
		"3000 unknown keys, each listed",
		passengerText({}, extra),
		extra.map(([k]) => k),
	);
}

// --- Duplicate keys: JSON.parse keeps the last ------------------------------------------------
acceptedBody(
	'{"Pclass":9,...,"Pclass":3} is Pclass 3',
	`{"Pclass":9,${VALID.slice(1, -1)},"Pclass":3}`,
	VALID,
);
invalid('{"Pclass":3,...,"Pclass":9} is Pclass 9', `{${VALID.slice(1, -1)},"Pclass":9}`, [
	"Pclass",
]);
acceptedBody(
	'{"Sex":"male",...,"Sex":"female"} is female',
	`{${VALID.slice(1, -1)},"Sex":"female"}`,
	passengerText({ Sex: '"female"' }),
);

// --- Deep nesting: JSON.parse copes, the schema rejects, no stack overflow -------------------
invalid("10,000 nested arrays", `${"[".repeat(10_000)}${"]".repeat(10_000)}`, [""]);
invalid("10,000 nested objects", `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`, [
	"Pclass",
	"Sex",
	"SibSp",
	"Parch",
	"Fare",
	"a",
]);
invalid(
	"Age = 10,000 nested arrays",
	passengerText({ Age: `${"[".repeat(10_000)}${"]".repeat(10_000)}` }),
	["Age"],
);
cases.push({
	name: "batch of 100,000 nested arrays (200 KB)",
	send: post("/predict/gbdt-ts/batch", `${"[".repeat(100_000)}${"]".repeat(100_000)}`),
	status: 400,
	code: "invalid_request",
	issues: [""],
});

// --- Sizes: 64 KiB single, 2 MiB batch, with and without Content-Length ----------------------
/** A single-passenger body of exactly `size` bytes: the passenger plus a padding field. */
const padded = (size: number) => {
	const head = `${VALID.slice(0, -1)},"pad":"`;
	return `${head}${"x".repeat(size - head.length - 2)}"}`;
};
cases.push(
	{
		name: "exactly 64 KiB is read (and the pad field rejected)",
		send: post("/predict/mlp-ts", padded(64 * KiB)),
		status: 400,
		code: "invalid_request",
		issues: ["pad"],
	},
	{
		name: "64 KiB + 1 byte -> 413",
		send: post("/predict/mlp-ts", padded(64 * KiB + 1)),
		status: 413,
		code: "payload_too_large",
	},
	{
		name: "10 MiB with Content-Length -> 413",
		send: large("/predict/gbdt-onnx", 10 * MiB, "content-length"),
		status: 413,
		code: "payload_too_large",
	},
	{
		name: "10 MiB chunked, no Content-Length -> 413",
		send: large("/predict/gbdt-onnx", 10 * MiB, "chunked"),
		status: 413,
		code: "payload_too_large",
	},
	{
		name: "64 KiB + 1 byte chunked -> 413",
		send: large("/predict/mlp-onnx", 64 * KiB + 1, "chunked"),
		status: 413,
		code: "payload_too_large",
	},
	{
		name: "batch: 3 MiB with Content-Length -> 413",
		send: large("/predict/gbdt-onnx/batch", 3 * MiB, "content-length"),
		status: 413,
		code: "payload_too_large",
	},
	{
		name: "batch: 3 MiB chunked -> 413",
		send: large("/predict/gbdt-onnx/batch", 3 * MiB, "chunked"),
		status: 413,
		code: "payload_too_large",
	},
);

// --- Batches ------------------------------------------------------------------------------------
const batch = (instances: string[]) => `{"instances":[${instances.join(",")}]}`;
cases.push(
	{
		name: "batch of 1001 -> 400",
		send: post("/predict/mlp-onnx/batch", batch(Array(1001).fill(VALID))),
		status: 400,
		code: "invalid_request",
		issues: ["instances"],
	},
	{
		name: "batch of 1000 (the limit) -> 200",
		send: post("/predict/mlp-onnx/batch", batch(Array(1000).fill(VALID))),
		status: 200,
		check: (b) => expect((b as { predictions: unknown[] }).predictions).toHaveLength(1000),
	},
	{
		name: "empty batch",
		send: post("/predict/mlp-ts/batch", batch([])),
		status: 400,
		code: "invalid_request",
		issues: ["instances"],
	},
	{
		name: "instances is an object",
		send: post("/predict/mlp-ts/batch", `{"instances":${VALID}}`),
		status: 400,
		code: "invalid_request",
		issues: ["instances"],
	},
	{
		name: "a bare array instead of {instances}",
		send: post("/predict/gbdt-ts/batch", `[${VALID}]`),
		status: 400,
		code: "invalid_request",
		issues: [""],
	},
	{
		name: "one bad instance is named by index",
		send: post("/predict/gbdt-ts/batch", batch([VALID, passengerText({ Sex: '"x"' }), VALID])),
		status: 400,
		code: "invalid_request",
		issues: ["instances.1.Sex"],
	},
	{
		name: "batch with an extra top-level key",
		send: post("/predict/gbdt-onnx/batch", `{"instances":[${VALID}],"model":"mlp-ts"}`),
		status: 400,
		code: "invalid_request",
		issues: ["model"],
	},
);

// --- Content-Type and charset --------------------------------------------------------------------
const unsupported = (name: string, contentType: string | null) => {
	const model = nextModel();
	cases.push({
		name,
		send: rawPost(`/predict/${model}`, VALID, contentType),
		status: 415,
		code: "unsupported_media_type",
	});
};
unsupported("no Content-Type", null);
unsupported("text/plain", "text/plain");
unsupported("charset=latin1", "application/json; charset=latin1");
unsupported("charset=iso-8859-1", "application/json; charset=ISO-8859-1");
unsupported("charset=utf-16", "application/json; charset=utf-16");
unsupported("application/jsonp", "application/jsonp");
unsupported("application/x-www-form-urlencoded", "application/x-www-form-urlencoded");
unsupported("multipart/form-data", "multipart/form-data; boundary=x");
unsupported("a second parameter", "application/json; charset=utf-8; q=1");
unsupported("two types in one header", "application/json, text/plain");
unsupported("an empty Content-Type", "");
unsupported(
	"two Content-Type headers, both JSON (joined, as a Request does)",
	"application/json\r\nContent-Type: application/json",
);
accepted(
	"a Content-Type padded with spaces and tabs",
	(model) => rawPost(`/predict/${model}`, VALID, " \t application/json \t "),
	VALID,
);
accepted(
	'Application/JSON; charset="UTF-8" (case and quotes)',
	(model) =>
		post(`/predict/${model}`, VALID, { "content-type": 'Application/JSON; charset="UTF-8"' }),
	VALID,
);

// --- Content-Encoding ----------------------------------------------------------------------------
const encoded = (name: string, encoding: string, status: 200 | 415) => {
	const send = (model: Model) =>
		rawPost(`/predict/${model}`, VALID, "application/json", `Content-Encoding: ${encoding}\r\n`);
	if (status === 200) accepted(name, send, VALID);
	else cases.push({ name, send: send(nextModel()), status, code: "unsupported_media_type" });
};
encoded("Content-Encoding: identity", "identity", 200);
encoded("Content-Encoding: IDENTITY, padded", "  IDENTITY \t", 200);
encoded("Content-Encoding: gzip", "gzip", 415);
encoded("Content-Encoding: an empty value", "", 415);
encoded(
	"two Content-Encoding headers, both identity",
	"identity\r\nContent-Encoding: identity",
	415,
);

// --- Bytes that are not UTF-8, a BOM, other encodings -------------------------------------------
const bytes = (...parts: Array<string | number[]>) =>
	new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...Buffer.from(p, "utf8")] : p)));
/** Malformed, and said to be not UTF-8 on every runtime, whichever way it decodes. */
const notUtf8 = (name: string, body: Uint8Array<ArrayBuffer>) =>
	cases.push({
		name,
		send: post(`/predict/${nextModel()}`, body),
		status: 400,
		code: "malformed_json",
		check: (b) =>
			expect((b as { error: { message: string } }).error.message).toBe(
				"request body is not valid UTF-8",
			),
	});
notUtf8("a 0xFF byte", bytes("{", [0xff], "}"));
notUtf8("latin1 é inside a string", bytes('{"Sex":"mal', [0xe9], '"}'));
notUtf8("an overlong UTF-8 slash", bytes('{"Sex":"', [0xc0, 0xaf], '"}'));
notUtf8("a UTF-8-encoded surrogate", bytes('{"Sex":"', [0xed, 0xa0, 0x80], '"}'));
notUtf8("a literal U+FFFD beside a 0xFF byte", bytes('{"Sex":"\uFFFD', [0xff], '"}'));
// A literal U+FFFD is valid UTF-8: decoded as itself, so the schema names it as an unknown key.
invalid("a literal U+FFFD key", passengerText({}, [["\uFFFD", "0"]]), ["\uFFFD"]);
malformed("the body in UTF-16LE", new Uint8Array(Buffer.from(VALID, "utf16le")));
acceptedBody("a UTF-8 BOM is stripped by TextDecoder", bytes([0xef, 0xbb, 0xbf], VALID), VALID);

// --- The :model segment: traversal, encodings, case, length ------------------------------------
const unknownModel = (name: string, target: string) =>
	cases.push({ name, send: rawPost(target), status: 404, code: "unknown_model" });
unknownModel("..%2Fmanifest.json", "/predict/..%2Fmanifest.json");
unknownModel("%2e%2e%2fmanifest.json", "/predict/%2e%2e%2fmanifest.json");
unknownModel("..%2f..%2fmodels%2fmanifest.json", "/predict/..%2f..%2fmodels%2fmanifest.json");
unknownModel("a NUL byte, %00", "/predict/gbdt-onnx%00");
unknownModel("upper case GBDT-ONNX", "/predict/GBDT-ONNX");
unknownModel("a 10 KB model name", `/predict/${"m".repeat(10 * KiB)}`);
unknownModel("unicode, 🚢", "/predict/%F0%9F%9A%A2");
unknownModel("a look-alike with a Cyrillic о", "/predict/gbdt-%D0%BEnnx");
unknownModel("an invalid percent escape %ff", "/predict/%ff");
unknownModel("a truncated percent escape %E0%A4%A", "/predict/%E0%A4%A");
unknownModel("a model called __proto__", "/predict/__proto__");
unknownModel("a model called constructor", "/predict/constructor");
unknownModel("an encoded slash, gbdt-onnx%2Fbatch", "/predict/gbdt-onnx%2Fbatch");
cases.push(
	{
		// Dot segments are resolved as a WHATWG URL parser does, on every runtime: "%2e%2e" is
		// "..", so the path becomes "/" (no route). A JSON 404 and no file.
		name: "%2e%2e resolves to /",
		send: rawPost("/predict/%2e%2e"),
		status: 404,
		code: "not_found",
	},
	{
		name: "/predict/../models resolves to /models (GET only: 405)",
		send: rawPost("/predict/../models"),
		status: 405,
		code: "method_not_allowed",
	},
	{
		name: "/./predict/mlp-onnx/../gbdt-ts resolves to /predict/gbdt-ts",
		send: rawPost("/./predict/mlp-onnx/../gbdt-ts"),
		status: 200,
		code: "prediction",
		model: "gbdt-ts",
		equivalent: VALID,
	},
	{
		name: "/predict/../../../etc/passwd: no route, never the file",
		send: rawPost("/predict/../../../etc/passwd"),
		status: 404,
		code: "not_found",
	},
	{
		name: "a trailing slash is another route",
		send: rawPost("/predict/gbdt-onnx/"),
		status: 404,
		code: "not_found",
	},
	{
		name: "an empty model segment",
		send: rawPost("/predict//batch"),
		status: 404,
		code: "not_found",
	},
	{ name: "/predict alone", send: rawPost("/predict"), status: 404, code: "not_found" },
	{
		name: "a segment past /batch",
		send: rawPost("/predict/gbdt-onnx/batch/extra"),
		status: 404,
		code: "not_found",
	},
	{
		name: "GET /models/..%2Fmanifest.json",
		send: call("GET", "/models/..%2Fmanifest.json"),
		status: 404,
		code: "unknown_model",
	},
);
cases.push({
	name: "gbdt%2Donnx is percent-decoded to gbdt-onnx",
	send: rawPost("/predict/gbdt%2Donnx"),
	status: 200,
	code: "prediction",
	model: "gbdt-onnx",
	equivalent: VALID,
});
cases.push({
	name: "a query string is ignored (model comes from the path)",
	send: post("/predict/gbdt-onnx?model=mlp-ts&Pclass=1&__proto__=x", VALID),
	status: 200,
	code: "prediction",
	model: "gbdt-onnx",
	equivalent: VALID,
});
accepted(
	"a fragment in the request target is ignored",
	(model) => rawPost(`/predict/${model}#../../manifest.json`),
	VALID,
);

// --- Methods ---------------------------------------------------------------------------------------
cases.push(
	{
		// HEAD has no body, so only status and Allow are checked.
		name: "HEAD /predict/gbdt-onnx -> 405, Allow: POST",
		send: call("HEAD", "/predict/gbdt-onnx"),
		status: 405,
		allow: "POST",
	},
	...(["GET", "PUT", "DELETE", "OPTIONS", "PATCH"] as const).map(
		(method): Case => ({
			name: `${method} /predict/gbdt-ts -> 405, Allow: POST`,
			send: call(method, "/predict/gbdt-ts", method === "GET" ? undefined : VALID),
			status: 405,
			code: "method_not_allowed",
			allow: "POST",
		}),
	),
	{
		name: "DELETE /predict/mlp-ts/batch -> 405",
		send: call("DELETE", "/predict/mlp-ts/batch"),
		status: 405,
		code: "method_not_allowed",
		allow: "POST",
	},
	{
		name: "POST /health -> 405, Allow: GET, HEAD",
		send: post("/health", VALID),
		status: 405,
		code: "method_not_allowed",
		allow: "GET, HEAD",
	},
	{
		name: "PUT /models/gbdt-ts -> 405",
		send: call("PUT", "/models/gbdt-ts", VALID),
		status: 405,
		code: "method_not_allowed",
		allow: "GET, HEAD",
	},
);

// --- Other headers the app ignores ----------------------------------------------------------------
accepted(
	"a junk Authorization header (no API_KEY set)",
	(model) =>
		post(`/predict/${model}`, VALID, { ...JSON_TYPE, authorization: "Bearer ' OR 1=1 --" }),
	VALID,
);
accepted(
	"Expect: 100-continue (the interim 100 is skipped)",
	(model) => rawPost(`/predict/${model}`, VALID, "application/json", "Expect: 100-continue\r\n"),
	VALID,
);

// --- Transport level: requests the runtime's HTTP parser rejects before the app ------------------
const transport = (name: string, send: Send, status: Case["status"], allow5xx?: Case["allow5xx"]) =>
	cases.push({ name, send, status, allow5xx });
const head =
	"POST /predict/gbdt-onnx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
transport(
	"a 100 KB header (Node, Bun: 431; Deno: 400)",
	raw(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(100 * KiB)}\r\n\r\n`),
	{ node: 431, bun: 431, deno: 400 },
);
transport(
	"2000 headers (Node, Bun: 431; Deno: 400)",
	raw(
		`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
	),
	{ node: 431, bun: 431, deno: 400 },
);
for (const value of ["abc", "-1", "1e3", "+2", "0x2", "99999999999999999999"]) {
	transport(
		`Content-Length: ${value} -> 400`,
		raw(`${head}Content-Length: ${value}\r\n\r\n{}`),
		400,
	);
}
transport(
	"two different Content-Lengths -> 400",
	raw(`${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`),
	400,
);
transport(
	"Content-Length and Transfer-Encoding together (smuggling) -> 400",
	raw(`${head}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`),
	400,
);
transport("Transfer-Encoding: gzip -> 400", raw(`${head}Transfer-Encoding: gzip\r\n\r\n{}`), 400);
transport(
	// Deno closes the connection without an answer.
	"an invalid chunk size (Node, Bun: 400; Deno: closes)",
	raw(`${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
	{ node: 400, bun: 400, deno: null },
);
transport("garbage instead of HTTP -> 400", raw("\x00\x01\x02garbage\r\n\r\n"), 400);
transport(
	// Bun's parser reads "onnx HTTP/1.1" as the protocol version and answers 505.
	"a control byte in the request line (Node, Deno: 400; Bun: 505)",
	raw("POST /predict/gbdt\x01onnx HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
	{ node: 400, bun: 505, deno: 400 },
	{ bun: 505 },
);
transport(
	"a space in the request target (Node, Deno: 400; Bun: 505)",
	raw("POST /predict/gbdt onnx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"),
	{ node: 400, bun: 505, deno: 400 },
	{ bun: 505 },
);
transport(
	"an HTTP/0.9 request line (Node, Deno: 400; Bun: 505)",
	raw("GET /health\r\n\r\n"),
	{ node: 400, bun: 505, deno: 400 },
	{ bun: 505 },
);
transport(
	"an asterisk request target -> 400",
	raw("POST * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
	400,
);
transport(
	// Bun passes raw high bytes through to the app (a JSON 404); Node and Deno reject them.
	"raw 0xFF bytes in the path (Node, Deno: 400; Bun: 404 unknown_model)",
	raw(
		`POST /predict/gbdt-\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
	),
	{ node: 400, bun: 404, deno: 400 },
);
transport(
	// HTTP/1.1 requires Host; Deno's hyper does not insist.
	"no Host header (Node, Bun: 400; Deno: 200)",
	raw("GET /health HTTP/1.1\r\n\r\n"),
	{ node: 400, bun: 400, deno: 200 },
);

// ------------------------------------------------------------------------------------------------

let servers = new Map<Runtime, RunningServer>();
const server = (runtime: Runtime) => servers.get(runtime) as RunningServer;

beforeAll(async () => {
	servers = await startAllRuntimes();
}, 60_000);

let stopped = false;
afterAll(async () => {
	if (stopped) return;
	await Promise.all([...servers.values()].map((s) => s.stop()));
});

/** A stack frame, an absolute source path or a dependency path: never in a response. */
const LEAKS = [/^\s*at\s/m, /\bat \S+ \(/, /\/work\b/, /\.ts:\d/, /node_modules/, /file:\/\//];

function leaks(body: string): string[] {
	return LEAKS.filter((pattern) => pattern.test(body)).map(String);
}

interface Prediction {
	model: string;
	prediction: number;
	probability: number;
}

async function predict(base: string, model: Model, body: string): Promise<Prediction> {
	const reply = await viaFetch(base, `/predict/${model}`, {
		method: "POST",
		headers: JSON_TYPE,
		body,
	});
	expect(reply.status).toBe(200);
	return JSON.parse(reply.body) as Prediction;
}

function expected<T>(spec: T | PerRuntime<T>, runtime: Runtime): T {
	return spec !== null && typeof spec === "object" && runtime in (spec as object)
		? (spec as PerRuntime<T>)[runtime]
		: (spec as T);
}

/** Everything wrong with one runtime's reply, as readable lines (empty when all is well). */
async function problems(testCase: Case, runtime: Runtime, reply: Reply): Promise<string[]> {
	const found: string[] = [];
	const note = (what: string) => found.push(`${runtime}: ${what}`);
	const allowed5xx = testCase.allow5xx?.[runtime];
	if (reply.status !== null && reply.status >= 500 && reply.status !== allowed5xx) {
		note(`5xx status ${reply.status}: ${reply.body.slice(0, 200)}`);
	}
	if (testCase.status === "no-5xx") {
		// Any answer below 500, or none.
	} else {
		const want = expected(testCase.status, runtime);
		if (reply.status !== want) note(`status ${reply.status}, expected ${want}`);
	}
	for (const leak of leaks(reply.body)) note(`body matches ${leak}: ${reply.body.slice(0, 200)}`);
	if (testCase.code === undefined && testCase.allow === undefined) return found;
	if (testCase.allow !== undefined && reply.headers.allow !== testCase.allow) {
		note(`Allow ${JSON.stringify(reply.headers.allow)}, expected ${testCase.allow}`);
	}
	if (testCase.code === undefined) return found;
	if (!/^application\/json/.test(reply.headers["content-type"] ?? "")) {
		note(`content-type ${JSON.stringify(reply.headers["content-type"])}`);
	}
	let body: unknown;
	try {
		body = JSON.parse(reply.body);
	} catch {
		note(`body is not JSON: ${reply.body.slice(0, 200)}`);
		return found;
	}
	const code = expected(testCase.code, runtime);
	if (code === "prediction") {
		const p = body as Prediction;
		const model = testCase.model ?? (p.model as Model);
		if (!MODELS.includes(model)) note(`unexpected model ${JSON.stringify(p.model)}`);
		if (p.model !== model) note(`model ${p.model}, expected ${model}`);
		if (!(p.probability >= 0 && p.probability <= 1)) note(`probability ${p.probability}`);
		if (p.prediction !== (p.probability >= 0.5 ? 1 : 0)) note(`prediction ${p.prediction}`);
		if (testCase.equivalent !== undefined) {
			const reference = await predict(server(runtime).url, model, testCase.equivalent);
			if (p.probability !== reference.probability) {
				note(
					`probability ${p.probability}, but ${testCase.equivalent} gives ${reference.probability}`,
				);
			}
		}
	} else {
		const error = (body as { error?: { code?: unknown; message?: unknown; issues?: unknown } })
			.error;
		if (error?.code !== code) note(`error.code ${JSON.stringify(error?.code)}, expected ${code}`);
		if (typeof error?.message !== "string") note("error.message is not a string");
		if (testCase.issues !== undefined) {
			const paths = Array.isArray(error?.issues)
				? (error.issues as Array<{ path: string }>).map((i) => i.path)
				: error?.issues;
			if (JSON.stringify(paths) !== JSON.stringify(testCase.issues)) {
				note(
					`issues ${JSON.stringify(paths)?.slice(0, 300)}, expected ${JSON.stringify(testCase.issues).slice(0, 300)}`,
				);
			}
		}
	}
	if (found.length === 0) testCase.check?.(body);
	return found;
}

/** The server on `runtime` still answers a valid prediction. */
async function stillServes(runtime: Runtime): Promise<string[]> {
	try {
		const p = await predict(server(runtime).url, "gbdt-ts", VALID);
		return p.prediction === 0 || p.prediction === 1 ? [] : [`${runtime}: bad follow-up ${p}`];
	} catch (error) {
		return [`${runtime}: valid request afterwards failed: ${String(error)}`];
	}
}

async function run(testCase: Case): Promise<void> {
	const replies = await Promise.all(RUNTIMES.map((r) => testCase.send(server(r).url)));
	const found: string[] = [];
	for (const [i, runtime] of RUNTIMES.entries()) {
		found.push(...(await problems(testCase, runtime, replies[i] as Reply)));
	}
	if (typeof testCase.status === "number") {
		// The app answers: the three runtimes must agree.
		const statuses = replies.map((r) => r.status);
		if (new Set(statuses).size !== 1) found.push(`statuses differ: ${statuses.join(", ")}`);
	}
	for (const runtime of RUNTIMES) found.push(...(await stillServes(runtime)));
	expect(found).toEqual([]);
}

test("at least 60 distinct hostile cases, uniquely named", () => {
	expect(cases.length).toBeGreaterThanOrEqual(60);
	expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

describe("hostile input, on node, bun and deno at once", () => {
	for (const testCase of cases) test(testCase.name, () => run(testCase), 30_000);
});

describe("a client that stops sending mid-body", () => {
	/**
	 * Content-Length: 100, 11 bytes of body, then FIN. The app's body read fails; what reaches the
	 * client differs by runtime: Node's parser answers 400 itself, Bun drops the connection, and
	 * Deno sends the app's 500 internal_error. Each runtime also logs the client's abort as an
	 * "unhandled error" (README: a 500 is "a bug"). Expected: never a 5xx (a 400 or no answer), and
	 * no error-level log for a client going away. Fails today: see the report of issue 5.
	 */
	test("Content-Length larger than the body, then half-close: no 5xx, no error logged", async () => {
		const before = RUNTIMES.map((r) => server(r).stderr().length);
		const replies = await Promise.all(
			RUNTIMES.map((r) => truncatedBody("half-close")(server(r).url)),
		);
		const found: string[] = [];
		const noFiveHundred: Case = { name: "", send: truncatedBody("half-close"), status: "no-5xx" };
		for (const [i, runtime] of RUNTIMES.entries()) {
			found.push(...(await problems(noFiveHundred, runtime, replies[i] as Reply)));
		}
		for (const runtime of RUNTIMES) found.push(...(await stillServes(runtime)));
		// The logs arrive over pipes, after the answers: wait for any error line up to a bound a slow
		// machine stays within, rather than a fixed moment it could outlast and so pass unseen.
		const logSince = (runtime: Runtime, i: number) => server(runtime).stderr().slice(before[i]);
		const deadline = performance.now() + 2000;
		while (
			performance.now() < deadline &&
			!RUNTIMES.some((r, i) => logSince(r, i).includes("unhandled error"))
		) {
			await Bun.sleep(20);
		}
		for (const [i, runtime] of RUNTIMES.entries()) {
			const log = logSince(runtime, i);
			for (const line of log.split("\n").filter((l) => l.includes("unhandled error"))) {
				found.push(`${runtime}: logged "${line}"`);
			}
		}
		expect(found).toEqual([]);
	}, 20_000);

	test("Content-Length larger than the body, then reset: no answer possible, still serving", async () => {
		await run({
			name: "reset",
			send: truncatedBody("reset"),
			status: { node: null, bun: null, deno: null },
		});
	}, 20_000);
});

describe("after all of it", () => {
	test("no case made a server log an unhandled error, except the mid-body aborts", () => {
		for (const runtime of RUNTIMES) {
			const unexpected = server(runtime)
				.stderr()
				.split("\n")
				.filter((line) => line.includes("unhandled error"))
				.filter((line) => !/aborted|connection was closed|BadResource/i.test(line));
			expect({ runtime, unexpected }).toEqual({ runtime, unexpected: [] });
		}
	});

	test("every server is alive, then drains and exits 0 on SIGTERM", async () => {
		for (const runtime of RUNTIMES) {
			expect({ runtime, alive: server(runtime).process.exitCode }).toEqual({
				runtime,
				alive: null,
			});
		}
		const codes = await Promise.all(RUNTIMES.map((r) => server(r).stop()));
		stopped = true;
		expect(Object.fromEntries(RUNTIMES.map((r, i) => [r, codes[i]]))).toEqual({
			node: 0,
			bun: 0,
			deno: 0,
		});
	}, 20_000);
});
