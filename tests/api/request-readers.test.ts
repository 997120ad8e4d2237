import { afterEach, describe, expect, test } from "bun:test";
import {
	checkJsonHeaders,
	type DirectHeader,
	parseJsonBytes,
	readBody,
	readJson,
	readRequestsWith,
} from "../../src/api/body.ts";
import { ApiError } from "../../src/api/errors.ts";

/**
 * The readers a runtime's entry point hands api/body.ts (readRequestsWith): Node's direct header
 * reader, Deno's loose-first decoder. Each must give the answers of the default way exactly. They
 * are a process-wide hook: each test sets them and puts the defaults back.
 */

afterEach(() => readRequestsWith({}));

const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (...parts: Array<string | number[]>) =>
	new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...utf8(p)] : p)));

/** What a call returns, or the ApiError it throws as status, code and message. */
function outcome(run: () => unknown): unknown {
	try {
		return { value: run() };
	} catch (error) {
		if (!(error instanceof ApiError)) throw error;
		return { status: error.status, code: error.code, message: error.message };
	}
}

const NOT_UTF8 = {
	status: 400,
	code: "malformed_json",
	message: "request body is not valid UTF-8",
};
const EMPTY = { status: 400, code: "malformed_json", message: "request body is empty" };

/** The decoders `run` calls, "fatal" or "replacing", in order. */
function decodersUsed(run: () => unknown): string[] {
	const used: string[] = [];
	const decode = TextDecoder.prototype.decode;
	TextDecoder.prototype.decode = function (this: TextDecoder, ...args) {
		used.push(this.fatal ? "fatal" : "replacing");
		return decode.apply(this, args);
	};
	try {
		outcome(run);
	} finally {
		TextDecoder.prototype.decode = decode;
	}
	return used;
}

describe("the loose-first decoder", () => {
	const parsedLooseFirst = (body: Uint8Array) => {
		readRequestsWith({ decode: "loose-first" });
		return outcome(() => parseJsonBytes(body));
	};

	test("valid ASCII, multibyte text and a BOM decode as with the strict decoder", () => {
		expect(parsedLooseFirst(utf8('{"Pclass":3}'))).toEqual({ value: { Pclass: 3 } });
		expect(parsedLooseFirst(utf8('{"name":"Zoë Ångström 🚢 日本"}'))).toEqual({
			value: { name: "Zoë Ångström 🚢 日本" },
		});
		expect(parsedLooseFirst(bytes([0xef, 0xbb, 0xbf], '{"a":1}'))).toEqual({ value: { a: 1 } });
	});

	test("a literal U+FFFD in valid UTF-8 is accepted as itself", () => {
		expect(parsedLooseFirst(utf8('{"\uFFFD":"a\uFFFDb"}'))).toEqual({
			value: { "\uFFFD": "a\uFFFDb" },
		});
	});

	test("invalid bytes are the strict decoder's 400, a literal U+FFFD beside them too", () => {
		for (const body of [
			bytes([0x7b, 0xff, 0xfe, 0x7d]),
			bytes('{"Sex":"mal', [0xe9], '"}'),
			bytes('{"Sex":"', [0xc0, 0xaf], '"}'),
			bytes('{"Sex":"', [0xed, 0xa0, 0x80], '"}'),
			bytes('{"a":"', [0xe2, 0x82]),
			bytes('{"a":"\uFFFD', [0xff], '"}'),
		]) {
			expect(parsedLooseFirst(body)).toEqual(NOT_UTF8);
		}
	});

	test("the fatal decoder runs only for a text holding U+FFFD; strict runs it alone", () => {
		const parse = (text: string) => () => parseJsonBytes(utf8(text));
		readRequestsWith({ decode: "loose-first" });
		expect(decodersUsed(parse('{"a":"é"}'))).toEqual(["replacing"]);
		expect(decodersUsed(parse('{"a":"\uFFFD"}'))).toEqual(["replacing", "fatal"]);
		readRequestsWith({ decode: "strict" });
		expect(decodersUsed(parse('{"a":"é"}'))).toEqual(["fatal"]);
	});

	test("an empty or whitespace-only body is the same 400 as now", () => {
		for (const body of ["", "   ", " \r\n\t "]) expect(parsedLooseFirst(utf8(body))).toEqual(EMPTY);
	});

	test("every body gets the strict decoder's answer", () => {
		const bodies = [
			utf8('{"a":[1,2,{"b":null}]}'),
			utf8('{"s":"\uFFFD\uFFFD"}'),
			utf8("\uFFFD"),
			utf8("not json"),
			utf8("NaN"),
			bytes([0xef, 0xbb, 0xbf]),
			bytes([0xff]),
			new Uint8Array(Buffer.from('{"a":1}', "utf16le")),
			new Uint8Array(0),
		];
		for (const body of bodies) {
			readRequestsWith({ decode: "strict" });
			const strict = outcome(() => parseJsonBytes(body));
			expect({ body: [...body], answer: parsedLooseFirst(body) }).toEqual({
				body: [...body],
				answer: strict,
			});
		}
	});
});

const post = (headers: Record<string, string>) =>
	new Request("http://x/predict/m", { method: "POST", body: '{"a":1}', headers });

/** A direct reader that serves the headers of an env `{ headers }`, lower-cased names. */
const fromEnv: DirectHeader = (env, name) =>
	(env as { headers?: Record<string, string | null | undefined> } | undefined)?.headers?.[name];

describe("checkJsonHeaders with a direct header reader", () => {
	const HEADER_SETS: Record<string, string>[] = [
		{ "content-type": "application/json" },
		{ "content-type": 'Application/JSON; charset="UTF-8"' },
		{ "content-type": "application/json; charset=latin1" },
		{ "content-type": "text/plain" },
		{ "content-type": "" },
		{},
		{ "content-type": "application/json", "content-encoding": "identity" },
		{ "content-type": "application/json", "content-encoding": " Identity " },
		{ "content-type": "application/json", "content-encoding": "gzip" },
		{ "content-type": "text/plain", "content-encoding": "gzip" },
		{ "content-type": "application/json", "content-encoding": "identity, gzip" },
	];

	test("the same answers as through the Request, with and without untypedIsJson", () => {
		for (const headers of HEADER_SETS) {
			for (const options of [{}, { untypedIsJson: true }]) {
				const env = { headers: { "content-type": null, "content-encoding": null, ...headers } };
				readRequestsWith({});
				const viaRequest = outcome(() => checkJsonHeaders(post(headers), env, options));
				readRequestsWith({ header: fromEnv });
				// The Request holds other headers: only the direct reader's values may count.
				const direct = outcome(() => checkJsonHeaders(post({}), env, options));
				expect({ headers, options, direct }).toEqual({ headers, options, direct: viaRequest });
			}
		}
	});

	test("its values are the ones checked, null as no header", () => {
		readRequestsWith({ header: fromEnv });
		const json = { "content-type": "application/json" };
		const env = (headers: Record<string, string | null>) => ({ headers });
		expect(() => checkJsonHeaders(post(json), env({ "content-type": "text/plain" }))).toThrow(
			'got "text/plain"',
		);
		expect(() => checkJsonHeaders(post(json), env({ "content-type": null }))).toThrow("got none");
		expect(() =>
			checkJsonHeaders(
				post({ "content-type": "text/plain" }),
				env({ ...json, "content-encoding": null }),
			),
		).not.toThrow();
	});

	test("undefined falls back to the Request's headers, name by name", () => {
		const asked: string[] = [];
		readRequestsWith({
			header: (env, name) => {
				asked.push(name);
				return fromEnv(env, name);
			},
		});
		const gzip = post({ "content-type": "application/json", "content-encoding": "gzip" });
		// The direct reader has the Content-Type only: the Content-Encoding is the Request's.
		expect(
			outcome(() => checkJsonHeaders(gzip, { headers: { "content-type": "text/plain" } })),
		).toEqual({
			status: 415,
			code: "unsupported_media_type",
			message: 'Content-Encoding "gzip" is not supported; send the body uncompressed',
		});
		expect(asked).toEqual(["content-type", "content-encoding"]);
		// No direct way at all (no env): the Request's, which are fine.
		expect(() =>
			checkJsonHeaders(post({ "content-type": "application/json" }), undefined),
		).not.toThrow();
	});

	test("readJson checks the headers through it too", async () => {
		readRequestsWith({ header: fromEnv });
		const env = { headers: { "content-type": "text/plain" } };
		const read = readJson(post({ "content-type": "application/json" }), 1024, env);
		await expect(read).rejects.toThrow(
			'Content-Type must be application/json (utf-8), got "text/plain"',
		);
	});
});

describe("readRequestsWith", () => {
	const typed = () => post({ "content-type": "application/json" });
	const textEnv = { headers: { "content-type": "text/plain" }, held: utf8("[1]") };
	const inHand = (env: unknown) => (env as { held?: Uint8Array } | undefined)?.held;

	test("a reader it is not given is put back to its default", async () => {
		readRequestsWith({ header: fromEnv, body: inHand });
		expect(() => checkJsonHeaders(typed(), textEnv)).toThrow("text/plain");
		expect(readBody(typed(), 1024, textEnv)).toBe(textEnv.held);
		readRequestsWith({ body: inHand });
		expect(() => checkJsonHeaders(typed(), textEnv)).not.toThrow();
		readRequestsWith({ header: fromEnv });
		expect(new TextDecoder().decode(await readBody(typed(), 1024, textEnv))).toBe('{"a":1}');
	});

	test("one test's readers do not reach the next", () => {
		readRequestsWith({
			header: () => "text/plain",
			body: () => utf8("[1]"),
			decode: "loose-first",
		});
	});

	test("...which finds the defaults again", async () => {
		expect(decodersUsed(() => parseJsonBytes(utf8("[1]")))).toEqual(["fatal"]);
		expect(() => checkJsonHeaders(typed(), textEnv)).not.toThrow();
		const body = readBody(typed(), 1024, textEnv);
		expect(body).toBeInstanceOf(Promise);
		expect(new TextDecoder().decode(await body)).toBe('{"a":1}');
	});
});
