import { type Listen, ListenError, run } from "./lifecycle.ts";

// The little of Deno's global this file uses; tsc runs with Node's and Bun's types, not Deno's.
declare const Deno: {
	version: { deno: string };
	errors: { AddrInUse: new () => Error };
	serve(
		options: { port: number; hostname: string; onListen?: () => void },
		handler: (request: Request) => Response | Promise<Response>,
	): { addr: { hostname: string; port: number }; shutdown(): Promise<void> };
};

/** Deno: Deno.serve. */
const listen: Listen = async (app, config) => {
	let server: ReturnType<typeof Deno.serve>;
	try {
		server = Deno.serve(
			{ port: config.port, hostname: config.host, onListen: () => {} },
			(request) => app.fetch(request),
		);
	} catch (error) {
		if (error instanceof Deno.errors.AddrInUse) throw new ListenError("address already in use");
		throw error;
	}
	const { hostname, port } = server.addr;
	return {
		url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
		// shutdown() stops accepting and resolves once in-flight requests have finished.
		close: () => server.shutdown(),
	};
};

await run(`deno ${Deno.version.deno}`, listen);
