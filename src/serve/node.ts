import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { getRequestListener } from "@hono/node-server";
import { readBodiesWith } from "../api/body.ts";
import { ListenError, type RuntimeAdapter, run } from "./lifecycle.ts";
import { nodeBody } from "./node-body.ts";
import { processWorkers } from "./processes.ts";

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
