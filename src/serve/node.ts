import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { getRequestListener } from "@hono/node-server";
import { BODY_LIMITS, readRequestsWith } from "../api/body.ts";
import { run } from "./lifecycle.ts";
import { processWorkers } from "./processes.ts";
import { ListenError, type RuntimeAdapter } from "./runtime.ts";

/**
 * A body of at most this many bytes (declared by Content-Length) is read before the request is
 * routed: the smallest body limit of the API, so nothing is buffered that a route would not take.
 */
const READ_BEFORE_ROUTING = BODY_LIMITS.single;

/** The bodies read before routing, by request. */
const readFirst = new WeakMap<IncomingMessage, Buffer>();

/**
 * node:http's listener, reading a small declared body first, as a server without a framework
 * does: the handler then finds its bytes in hand and answers without an await, so the adapter
 * writes the response at once instead of through its promise path. Measured over HTTP (each
 * request to a server with this and to one without in turn, 10,000 pairs, pinned, the built-in
 * generator): predictions 1.7-2.4 µs faster, floor-post 5.6, GET /health unchanged. A client that
 * leaves mid-body never reaches the app: there is no one to answer, and node:http drops the
 * connection.
 */
function readingSmallBodiesFirst(listener: RequestListener): RequestListener {
	return (request, response) => {
		if (!declaresAtMost(request, READ_BEFORE_ROUTING)) {
			listener(request, response);
			return;
		}
		collect(request, (body) => {
			readFirst.set(request, body);
			listener(request, response);
		});
	};
}

/** Whether the request declares (Content-Length) a body of at most `limit` bytes. */
function declaresAtMost(incoming: IncomingMessage, limit: number): boolean {
	const declared = incoming.headers["content-length"];
	return declared !== undefined && Number(declared) <= limit;
}

/** Gathers the body's chunks and hands `done` the whole of it at its end. */
function collect(incoming: IncomingMessage, done: (body: Buffer) => void): void {
	const chunks: Buffer[] = [];
	incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
	incoming.on("end", () =>
		done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
	);
}

/**
 * Node's body read straight from the IncomingMessage that @hono/node-server hands the app as
 * `env.incoming`, for a body whose declared length is within the limit: the bytes themselves when
 * they were read before routing, else a promise of them. Reading it through the Request goes
 * through the adapter's bookkeeping for every case a Request allows: measured over HTTP (h2load,
 * concurrency 1, pinned, 5 alternations of 10,000 requests), floor-post's p50 65 -> 60 us and
 * mlp-ts's 84 -> 73 us. Anything else, a chunked body or one declared too large, returns
 * undefined: the shared reader (api/body.ts) counts or refuses it.
 */
function nodeBody(env: unknown, limit: number): Uint8Array | Promise<Uint8Array> | undefined {
	const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
	if (!incoming || !declaresAtMost(incoming, limit)) return undefined;
	const read = readFirst.get(incoming);
	if (read !== undefined) return read;
	if (incoming.readableDidRead) return undefined;
	return new Promise((resolve, reject) => {
		collect(incoming, resolve);
		// A client gone before the end of its body: the caller answers 400 to whoever still listens.
		// (No "error" listener: node:http emits it only to listeners, and "close" follows it.)
		incoming.on("close", () => {
			if (!incoming.readableEnded) reject(new Error("request body cut off"));
		});
	});
}

/** A value a Request's headers would trim or refuse: those are left to the Request to read. */
const UNUSUAL_VALUE = /^[\t ]|[\t ]$|[\0\r\n]/;

/**
 * A request header read straight from the IncomingMessage: asking the Request builds
 * @hono/node-server's headers wrapper and validates the name on every call, and reading the two
 * a prediction checks directly measured 1.9 µs less per prediction (mlp-ts and mlp-onnx, paired
 * A/B over HTTP, 20,000 pairs). From the raw list: none is null, one is its value (the parser has trimmed it),
 * several are left to the Request (undefined), which joins them. Not `incoming.headers`: it keeps
 * only the first of two Content-Types, which the Request, and Bun and Deno, refuse.
 */
function nodeHeader(env: unknown, name: string): string | null | undefined {
	const raw = (env as { incoming?: IncomingMessage } | undefined)?.incoming?.rawHeaders;
	if (!raw) return undefined;
	let value: string | null = null;
	for (let i = 0; i < raw.length; i += 2) {
		const key = raw[i] as string;
		if (key.length !== name.length || key.toLowerCase() !== name) continue;
		if (value !== null) return undefined;
		value = raw[i + 1] as string;
	}
	return value !== null && UNUSUAL_VALUE.test(value) ? undefined : value;
}

/** Node: node:http with Hono's request listener. */
const node: RuntimeAdapter = {
	name: `node ${process.version}`,
	...processWorkers,
	listen: (app, config, { reusePort }) =>
		new Promise((resolve, reject) => {
			const server = createServer(readingSmallBodiesFirst(getRequestListener(app.fetch)));
			server.once("error", (error: NodeJS.ErrnoException) =>
				reject(error.code === "EADDRINUSE" ? new ListenError("address already in use") : error),
			);
			server.listen({ port: config.port, host: config.host, reusePort }, () => {
				const { address, port } = server.address() as AddressInfo;
				resolve({
					url: `http://${address.includes(":") ? `[${address}]` : address}:${port}`,
					// close() stops accepting and ends idle keep-alive sockets; busy ones end after their response.
					close: () => new Promise((done) => server.close(() => done())),
				});
			});
		}),
};

readRequestsWith({ body: nodeBody, header: nodeHeader });
await run(node, process.env);
