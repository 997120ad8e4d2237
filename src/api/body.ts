import { bodyReads } from "./body-reads.ts";
import { ApiError } from "./errors.ts";
import type { Soon } from "./soon.ts";

/** Largest accepted body for one passenger, and for a batch of up to 1000. */
export const BODY_LIMITS = { single: 64 * 1024, batch: 2 * 1024 * 1024 } as const;

// application/json, optionally with charset=utf-8 (any case, quoted or not) and nothing else.
const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const looseUtf8 = new TextDecoder("utf-8");

function tooLarge(limit: number): ApiError {
	return new ApiError(413, "payload_too_large", `request body exceeds ${limit} bytes`);
}

/**
 * Reads a bounded body. With a Content-Length the check costs nothing; without one (chunked),
 * the stream is counted as it arrives and abandoned once past the limit, so a huge body is
 * never buffered. Cheaper than Hono's bodyLimit, which re-wraps every body stream.
 */
async function readBounded(request: Request, limit: number): Promise<Uint8Array> {
	const declared = request.headers.get("content-length");
	if (declared !== null) {
		if (Number(declared) > limit) throw tooLarge(limit);
		return new Uint8Array(await request.arrayBuffer());
	}
	const reader = request.body?.getReader();
	if (!reader) return new Uint8Array(0);
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > limit) {
			await reader.cancel();
			throw tooLarge(limit);
		}
		chunks.push(value);
	}
	const body = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		body.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return body;
}

/**
 * A runtime's own cheaper way to a request's whole body, from the env its server hands the app
 * (Node: the IncomingMessage): the bytes themselves when the runtime already holds them, a promise
 * of them, or undefined where it has none and the Request's body is read.
 */
export type DirectBody = (
	env: unknown,
	limit: number,
) => Uint8Array | Promise<Uint8Array> | undefined;

/**
 * A runtime's own cheaper way to one request header (`name` in lower case), from the same env:
 * its value, null when the request has none, or undefined where it has no direct way and the
 * Request's headers are asked.
 */
export type DirectHeader = (env: unknown, name: string) => string | null | undefined;

/** What a runtime offers for reading a request; the default for each is the Request's own way. */
export interface RequestReaders {
	readonly body?: DirectBody;
	readonly header?: DirectHeader;
	/**
	 * How a body is checked to be UTF-8: "strict" decodes with the fatal decoder; "loose-first"
	 * with the replacing one, and again with the fatal one only when the text holds U+FFFD (a
	 * valid body may hold it too). Same answers, but on Deno the fatal decoder is a slow path:
	 * loose-first measured 1.2-2.2 µs faster per prediction there, and 0.5-0.7 µs slower on Node.
	 */
	readonly decode?: "strict" | "loose-first";
}

const noDirectWay = () => undefined;
let directBody: DirectBody = noDirectWay;
let directHeader: DirectHeader = noDirectWay;
let decode = decodeStrict;

/**
 * Sets how requests are read, every reader not given back to its default. The runtime's entry
 * point calls it once with what its runtime offers (serve/node.ts, serve/deno.ts); shared code
 * never names a runtime.
 */
export function readRequestsWith(readers: RequestReaders): void {
	directBody = readers.body ?? noDirectWay;
	directHeader = readers.header ?? noDirectWay;
	decode = readers.decode === "loose-first" ? decodeLooseFirst : decodeStrict;
}

/**
 * The whole body: the bytes themselves when the runtime already holds them (Node reads a small
 * body before routing, serve/node.ts), so the handler can answer without an await, which on
 * Node's adapter is the cheaper response path; else a promise of them.
 */
export function readBody(request: Request, limit: number, env?: unknown): Soon<Uint8Array> {
	const direct = directBody(env, limit);
	return direct instanceof Uint8Array ? direct : readComplete(request, limit, direct);
}

/**
 * A body stream that fails mid-way was cut off by the client (it aborted, or sent less than its
 * Content-Length): the client's fault, answered 400 (if it still listens) and not logged as ours.
 * The server never cuts one off itself: on shutdown it lets the reads under way finish, and
 * parks the requests that come to their body later (see body-reads.ts). A body already in hand
 * needs no read, so the gate does not apply to it.
 */
async function readComplete(
	request: Request,
	limit: number,
	direct: Promise<Uint8Array> | undefined,
): Promise<Uint8Array> {
	if (!bodyReads.begin()) return bodyReads.park();
	try {
		return await (direct ?? readBounded(request, limit));
	} catch (error) {
		if (error instanceof ApiError) throw error;
		throw new ApiError(400, "malformed_json", "request body ended before its declared length");
	} finally {
		bodyReads.end();
	}
}

export interface ReadOptions {
	/**
	 * Read a body without Content-Type as JSON: the Open Inference Protocol's clients (Triton's
	 * Python client among them) send none. A Content-Type that is not JSON is still refused.
	 */
	readonly untypedIsJson?: boolean;
}

/** A request header, through the runtime's direct way where it has one. */
function header(request: Request, env: unknown, name: string): string | null {
	const direct = directHeader(env, name);
	return direct === undefined ? request.headers.get(name) : direct;
}

/**
 * Refuses what is not a JSON body before a byte of it is read: a Content-Encoding (415) or a
 * Content-Type other than JSON (415). `env` is what the runtime's server handed the app.
 */
export function checkJsonHeaders(
	request: Request,
	env: unknown,
	{ untypedIsJson = false }: ReadOptions = {},
) {
	const type = header(request, env, "content-type");
	const encoding = header(request, env, "content-encoding");
	if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
		throw new ApiError(
			415,
			"unsupported_media_type",
			`Content-Encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed`,
		);
	}
	if (type === null ? !untypedIsJson : !JSON_TYPE.test(type)) {
		throw new ApiError(
			415,
			"unsupported_media_type",
			`Content-Type must be application/json (utf-8), got ${type === null ? "none" : JSON.stringify(type)}`,
		);
	}
}

function decodeStrict(bytes: Uint8Array): string {
	try {
		return strictUtf8.decode(bytes);
	} catch {
		throw new ApiError(400, "malformed_json", "request body is not valid UTF-8");
	}
}

/** The replacing decoder writes U+FFFD for every invalid sequence: text without one was valid. */
function decodeLooseFirst(bytes: Uint8Array): string {
	const text = looseUtf8.decode(bytes);
	return text.includes("\uFFFD") ? decodeStrict(bytes) : text;
}

/** The JSON value of a body's bytes, or the 400 that says why there is none. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
	const text = decode(bytes);
	if (text.trim() === "") throw new ApiError(400, "malformed_json", "request body is empty");
	try {
		return JSON.parse(text);
	} catch {
		throw new ApiError(400, "malformed_json", "request body is not valid JSON");
	}
}

/** The request's JSON value, or the ApiError (415, 413, 400) that explains why not. */
export async function readJson(
	request: Request,
	limit: number,
	env?: unknown,
	options: ReadOptions = {},
): Promise<unknown> {
	checkJsonHeaders(request, env, options);
	return parseJsonBytes(await readBody(request, limit, env));
}
