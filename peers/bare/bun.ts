import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";

/** Bun.serve alone: GET /health, and POST /bench/floor-post read whole before answering. */
const { port, host } = address(process.env);
const server = Bun.serve({
	port,
	hostname: host,
	routes: {
		"/health": () => new Response(BODY, { headers: HEADERS }),
		[FLOOR_POST_PATH]: {
			POST: async (request) => {
				await request.arrayBuffer();
				return new Response(BODY, { headers: HEADERS });
			},
		},
	},
	fetch: () => new Response(null, { status: 404 }),
});
process.on("SIGTERM", async () => {
	await server.stop();
	process.exit(0);
});
