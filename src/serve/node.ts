import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { getRequestListener } from "@hono/node-server";
import { readBodiesWith } from "../api/body.ts";
import { run } from "./lifecycle.ts";
import { processWorkers } from "./processes.ts";
import { ListenError, type RuntimeAdapter } from "./runtime.ts";

/**
 * Node's body read straight from the IncomingMessage that @hono/node-server hands the app as
 * `env.incoming`, for a body whose declared length is within the limit. Reading it through the
 * Request goes through the adapter's bookkeeping for every case a Request allows: measured over
 * HTTP (h2load, concurrency 1, pinned, 5 alternations of 10,000 requests), floor-post's p50
 * 65 -> 60 us and mlp-ts's 84 -> 73 us. Anything else, a chunked body or one declared too
 * large, returns undefined: the shared reader (api/body.ts) counts or refuses it.
 */
function nodeBody(env: unknown, limit: number): Promise<Uint8Array> | undefined {
	const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
	if (!incoming || incoming.readableDidRead) return undefined;
	const declared = incoming.headers["content-length"];
	if (declared === undefined || !(Number(declared) <= limit)) return undefined;
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		const collect = (chunk: Buffer) => chunks.push(chunk);
		const settle = (done: () => void) => {
			incoming.off("data", collect).off("end", end).off("error", cut).off("close", closed);
			done();
		};
		const end = () =>
			settle(() => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
		const cut = (error: Error) => settle(() => reject(error));
		// A client gone before the end of its body: the caller answers 400 to whoever still listens.
		const closed = () => {
			if (!incoming.readableEnded) cut(new Error("request body cut off"));
		};
		incoming.on("data", collect).on("end", end).on("error", cut).on("close", closed);
	});
}

/** Node: node:http with Hono's request listener. */
const node: RuntimeAdapter = {
	name: `node ${process.version}`,
	...processWorkers,
	listen: (app, config, { reusePort }) =>
		new Promise((resolve, reject) => {
			const server = createServer(getRequestListener(app.fetch));
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

readBodiesWith(nodeBody);
await run(node, process.env);
