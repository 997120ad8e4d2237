import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import process from "node:process";
import type { LoadedModel } from "../../src/inference/registry.ts";
import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";
import { type Answer, loadModels, PREDICT_PREFIX, passengerInput, predictOne } from "./predict.ts";

// With its length, as the service sends it: without one node:http would answer chunked.
const WITH_LENGTH = { ...HEADERS, "content-length": String(Buffer.byteLength(BODY)) };

function bare(response: ServerResponse, status: number): void {
	response.writeHead(status, { "content-length": "0" });
	response.end();
}

function answer(response: ServerResponse, { text, timing }: Answer): void {
	response.writeHead(200, {
		...HEADERS,
		"server-timing": timing,
		"content-length": String(Buffer.byteLength(text)),
	});
	response.end(text);
}

/** The whole body as the plainest node:http server reads it, then one prediction (predict.ts). */
function predict(request: IncomingMessage, response: ServerResponse, model: LoadedModel): void {
	const chunks: Buffer[] = [];
	request.on("data", (chunk: Buffer) => chunks.push(chunk));
	request.on("end", () => {
		try {
			const input = passengerInput(Buffer.concat(chunks).toString(), model);
			if (!input) return bare(response, 400);
			const answered = predictOne(model, input);
			if (!(answered instanceof Promise)) return answer(response, answered);
			answered.then(
				(ready) => answer(response, ready),
				() => bare(response, 500),
			);
		} catch {
			// Never thrown by the executors on any JSON object; here so no request stops the server.
			bare(response, 500);
		}
	});
}

/**
 * node:http alone: GET /health, POST /bench/floor-post read whole before answering, and
 * POST /predict/:model, listening once the models are loaded and warmed.
 */
const models = await loadModels(process.env.MODELS_DIR);
const server = createServer((request, response) => {
	const url = request.url ?? "";
	if (request.method === "POST" && url === FLOOR_POST_PATH) {
		request.on("data", () => {});
		request.on("end", () => {
			response.writeHead(200, WITH_LENGTH);
			response.end(BODY);
		});
	} else if (request.method === "POST" && url.startsWith(PREDICT_PREFIX)) {
		const model = models.get(url.slice(PREDICT_PREFIX.length));
		if (model) predict(request, response, model);
		else bare(response, 404);
	} else if (url === "/health") {
		response.writeHead(200, WITH_LENGTH);
		response.end(BODY);
	} else bare(response, 404);
});
const { port, host } = address(process.env);
server.listen(port, host);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
