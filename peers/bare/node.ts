import { createServer } from "node:http";
import process from "node:process";
import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";

// With its length, as the service sends it: without one node:http would answer chunked.
const WITH_LENGTH = { ...HEADERS, "content-length": String(Buffer.byteLength(BODY)) };

/** node:http alone: GET /health, and POST /bench/floor-post read whole before answering. */
const server = createServer((request, response) => {
	const answer = () => {
		response.writeHead(200, WITH_LENGTH);
		response.end(BODY);
	};
	if (request.method === "POST" && request.url === FLOOR_POST_PATH) {
		request.on("data", () => {});
		request.on("end", answer);
	} else if (request.url === "/health") answer();
	else {
		response.writeHead(404);
		response.end();
	}
});
const { port, host } = address(process.env);
server.listen(port, host);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
