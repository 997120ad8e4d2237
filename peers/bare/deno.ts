import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";
import { loadModels, PREDICT_PREFIX, predictionResponse } from "./predict.ts";

declare const Deno: {
	env: { get(key: string): string | undefined };
	serve(
		options: { port: number; hostname: string; onListen?: () => void },
		handler: (request: Request) => Response | Promise<Response>,
	): { shutdown(): Promise<void> };
	addSignalListener(signal: "SIGTERM", listener: () => void): void;
	exit(code: number): never;
};

/**
 * Deno.serve alone: GET /health, POST /bench/floor-post read whole before answering, and
 * POST /predict/:model (predict.ts), listening once the models are loaded and warmed.
 */
const models = await loadModels(Deno.env.get("MODELS_DIR"));
const { port, host } = address({ PORT: Deno.env.get("PORT"), HOST: Deno.env.get("HOST") });
const server = Deno.serve({ port, hostname: host, onListen: () => {} }, async (request) => {
	const path = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
	if (request.method === "POST") {
		if (path === FLOOR_POST_PATH) {
			await request.arrayBuffer();
			return new Response(BODY, { headers: HEADERS });
		}
		if (path.startsWith(PREDICT_PREFIX)) {
			return predictionResponse(
				models.get(path.slice(PREDICT_PREFIX.length)),
				await request.text(),
			);
		}
	}
	if (path === "/health") return new Response(BODY, { headers: HEADERS });
	return new Response(null, { status: 404 });
});
Deno.addSignalListener("SIGTERM", async () => {
	await server.shutdown();
	Deno.exit(0);
});
