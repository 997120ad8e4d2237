import process from "node:process";
import { run } from "./lifecycle.ts";
import { processWorkers } from "./processes.ts";
import { ListenError, type RuntimeAdapter } from "./runtime.ts";

/** Bun: Bun.serve. */
const bun: RuntimeAdapter = {
	name: `bun ${Bun.version}`,
	...processWorkers,
	async listen(app, config, { reusePort }) {
		let server: ReturnType<typeof Bun.serve>;
		try {
			server = Bun.serve({ fetch: app.fetch, port: config.port, hostname: config.host, reusePort });
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
	},
};

await run(bun, process.env);
