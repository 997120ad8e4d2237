import { connect, type Socket } from "node:net";

/**
 * Raw HTTP/1.1 over a plain TCP socket, for requests fetch refuses to send or rewrites: bad
 * bytes in the request line, invalid or lying Content-Length, chunked bodies of a chosen size,
 * huge headers, garbage instead of HTTP. Only ever connects to the host of the given URL, which
 * the tests keep on 127.0.0.1.
 */

export interface RawResponse {
	/** The status of the first response, or null when the server sent none before closing/timeout. */
	status: number | null;
	/** Lower-cased header names of the first response. */
	headers: Record<string, string>;
	/** The decoded body of the first response (chunked transfer decoded). */
	body: string;
	/** Everything received, as latin1 text. */
	raw: string;
	/** True when the server closed the connection (rather than the timeout ending the wait). */
	closed: boolean;
	/** A socket error (ECONNRESET, EPIPE...) seen while talking, if any. */
	error: string | undefined;
}

interface Parsed {
	status: number;
	headers: Record<string, string>;
	body: string;
	complete: boolean;
}

/** Parses the first response in `data`; complete once its whole body has arrived. */
function parseResponse(data: Buffer, closed: boolean): Parsed | null {
	const end = data.indexOf("\r\n\r\n");
	if (end < 0) return null;
	const head = data.subarray(0, end).toString("latin1").split("\r\n");
	const match = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
	if (!match) return null;
	// An interim answer (100 Continue, 102, 103): the final one follows.
	if (/^1(?!01)\d\d$/.test(match[1] ?? "")) {
		const next = parseResponse(data.subarray(end + 4), closed);
		return next ?? { status: Number(match[1]), headers: {}, body: "", complete: closed };
	}
	const headers: Record<string, string> = {};
	for (const line of head.slice(1)) {
		const colon = line.indexOf(":");
		if (colon > 0)
			headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	const status = Number(match[1]);
	const rest = data.subarray(end + 4);
	const length = headers["content-length"];
	if (status === 204 || status === 304 || status === 101) {
		return { status, headers, body: "", complete: true };
	}
	if (length !== undefined) {
		const n = Number(length);
		return {
			status,
			headers,
			body: rest.subarray(0, n).toString("utf8"),
			complete: rest.length >= n,
		};
	}
	if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
		const parts: Buffer[] = [];
		let offset = 0;
		for (;;) {
			const lineEnd = rest.indexOf("\r\n", offset);
			if (lineEnd < 0) return { status, headers, body: "", complete: false };
			const size = Number.parseInt(rest.subarray(offset, lineEnd).toString("latin1"), 16);
			if (!Number.isFinite(size)) return { status, headers, body: "", complete: closed };
			if (size === 0) {
				return {
					status,
					headers,
					body: Buffer.concat(parts).toString("utf8"),
					complete: rest.indexOf("\r\n\r\n", lineEnd) >= 0 || closed,
				};
			}
			if (rest.length < lineEnd + 2 + size + 2)
				return { status, headers, body: "", complete: false };
			parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
			offset = lineEnd + 2 + size + 2;
		}
	}
	// Neither: the body runs until the server closes.
	return { status, headers, body: rest.toString("utf8"), complete: closed };
}

export interface RawOptions {
	/** Longest wait for the response; what arrived by then is returned. Default 5 s. */
	timeoutMs?: number;
	/** Half-close (FIN) the writing side once everything was written. Default false. */
	endAfterWrite?: boolean;
	/** Fully close (destroy) the socket right after writing, without reading an answer. */
	destroyAfterWrite?: boolean;
}

/**
 * Opens a socket to `url`'s host and port, lets `write` send whatever it wants, and resolves with
 * the first response (or whatever arrived) once it is complete, the server closes, or the
 * timeout passes. `write` may keep writing after the response has started (e.g. a huge chunked
 * body the server cut short); it gets `answered()` to stop early, and write errors are recorded,
 * not thrown.
 */
export function rawExchange(
	url: string,
	write: (socket: Socket, answered: () => boolean) => Promise<void> | void,
	options: RawOptions = {},
): Promise<RawResponse> {
	const { hostname, port } = new URL(url);
	if (hostname !== "127.0.0.1" && hostname !== "localhost") {
		throw new Error(`raw-http talks to 127.0.0.1 only, not ${hostname}`);
	}
	const timeoutMs = options.timeoutMs ?? 5000;
	return new Promise((resolve) => {
		const socket = connect({ host: hostname, port: Number(port) });
		let data = Buffer.alloc(0);
		let closed = false;
		let error: string | undefined;
		let settled = false;
		const finish = () => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			const parsed = parseResponse(data, closed);
			socket.destroy();
			resolve({
				status: parsed?.status ?? null,
				headers: parsed?.headers ?? {},
				body: parsed?.body ?? "",
				raw: data.toString("latin1"),
				closed,
				error,
			});
		};
		const timer = setTimeout(finish, timeoutMs);
		socket.on("data", (chunk: Buffer) => {
			data = Buffer.concat([data, chunk]);
			if (parseResponse(data, false)?.complete) finish();
		});
		socket.on("error", (e: NodeJS.ErrnoException) => {
			error ??= e.code ?? e.message;
		});
		socket.on("close", () => {
			closed = true;
			finish();
		});
		socket.on("end", () => {
			closed = true;
			// The server half-closed: whatever it sent is all there is.
			finish();
		});
		socket.once("connect", async () => {
			try {
				await write(socket, () => data.length > 0 || settled);
				if (options.destroyAfterWrite) {
					socket.destroy();
					closed = true;
					finish();
				} else if (options.endAfterWrite && !socket.destroyed) socket.end();
			} catch (e) {
				error ??= String(e);
			}
		});
	});
}

/** Sends `request` (text taken as latin1 bytes, or raw bytes) as is, and reads the answer. */
export function rawRequest(
	url: string,
	request: string | Uint8Array,
	options: RawOptions = {},
): Promise<RawResponse> {
	const bytes = typeof request === "string" ? Buffer.from(request, "latin1") : request;
	return rawExchange(
		url,
		async (socket) => {
			await writeAll(socket, bytes);
		},
		options,
	);
}

/** Writes and waits for the drain when the socket buffers; resolves false when the socket died. */
export function writeAll(socket: Socket, bytes: Uint8Array): Promise<boolean> {
	return new Promise((resolve) => {
		if (socket.destroyed || !socket.writable) return resolve(false);
		const onClose = () => resolve(false);
		socket.once("close", onClose);
		const flushed = socket.write(bytes, (error) => {
			if (error) {
				socket.off("close", onClose);
				resolve(false);
			}
		});
		if (flushed) {
			socket.off("close", onClose);
			resolve(true);
		} else {
			socket.once("drain", () => {
				socket.off("close", onClose);
				resolve(true);
			});
		}
	});
}

/**
 * POSTs `total` bytes of `fill` to `path`, framed either with Transfer-Encoding: chunked (no
 * Content-Length) or with an honest Content-Length, written in slices of `chunkSize` with
 * backpressure, and stops writing as soon as the server has answered or hung up (so a server that
 * rejects early is never forced to swallow the rest). Resolves with the answer and how many body
 * bytes were written.
 */
export async function rawLargePost(
	url: string,
	path: string,
	total: number,
	options: RawOptions & {
		framing: "chunked" | "content-length";
		chunkSize?: number;
		fill?: string;
		contentType?: string;
	},
): Promise<RawResponse & { sent: number }> {
	const { host } = new URL(url);
	const chunked = options.framing === "chunked";
	const chunkSize = options.chunkSize ?? 64 * 1024;
	const slice = Buffer.alloc(chunkSize, options.fill ?? " ");
	let sent = 0;
	const response = await rawExchange(
		url,
		async (socket, answered) => {
			const head =
				`POST ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
				`Content-Type: ${options.contentType ?? "application/json"}\r\n` +
				(chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${total}\r\n\r\n`);
			if (!(await writeAll(socket, Buffer.from(head, "latin1")))) return;
			while (sent < total && !answered()) {
				const size = Math.min(chunkSize, total - sent);
				const body = slice.subarray(0, size);
				const frame = chunked
					? Buffer.concat([
							Buffer.from(`${size.toString(16)}\r\n`, "latin1"),
							body,
							Buffer.from("\r\n", "latin1"),
						])
					: body;
				if (!(await writeAll(socket, frame))) return;
				sent += size;
			}
			if (chunked && !answered()) await writeAll(socket, Buffer.from("0\r\n\r\n", "latin1"));
		},
		options,
	);
	return { ...response, sent };
}
