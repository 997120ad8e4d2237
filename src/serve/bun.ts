import { type Listen, ListenError, run } from "./lifecycle.ts";

/** Bun: Bun.serve. */
const listen: Listen = async (app, config) => {
	let server: ReturnType<typeof Bun.serve>;
	try {
		server = Bun.serve({ fetch: app.fetch, port: config.port, hostname: config.host });
	} catch (error) {
		if ((error as { code?: string }).code === "EADDRINUSE") {
			throw new ListenError("address already in use");
		}
		throw error;
	}
	return {
		url: server.url.origin,
		// stop() without force waits for in-flight requests.
		close: () => server.stop(),
	};
};

await run(`bun ${Bun.version}`, listen);
