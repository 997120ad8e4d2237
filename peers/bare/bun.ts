import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";
import { loadModels, predictionResponse } from "./predict.ts";

/**
 * Bun.serve alone: GET /health, POST /bench/floor-post read whole before answering, and
 * POST /predict/:model (predict.ts), listening once the models are loaded and warmed.
 */
const models = await loadModels(process.env.MODELS_DIR);
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
		"/predict/:model": {
			POST: async (request) =>
				predictionResponse(models.get(request.params.model), await request.text()),
		},
	},
	fetch: () => new Response(null, { status: 404 }),
});
process.on("SIGTERM", async () => {
	await server.stop();
	process.exit(0);
});
