import { address, BODY, FLOOR_POST_PATH, HEADERS } from "./answer.ts";

declare const Deno: {
	env: { get(key: string): string | undefined };
	serve(
		options: { port: number; hostname: string; onListen?: () => void },
		handler: (request: Request) => Response | Promise<Response>,
	): { shutdown(): Promise<void> };
	addSignalListener(signal: "SIGTERM", listener: () => void): void;
	exit(code: number): never;
};

/** Deno.serve alone: GET /health, and POST /bench/floor-post read whole before answering. */
const { port, host } = address({ PORT: Deno.env.get("PORT"), HOST: Deno.env.get("HOST") });
const server = Deno.serve({ port, hostname: host, onListen: () => {} }, async (request) => {
	const path = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
	if (request.method === "POST" && path === FLOOR_POST_PATH) {
		await request.arrayBuffer();
		return new Response(BODY, { headers: HEADERS });
	}
	if (path === "/health") return new Response(BODY, { headers: HEADERS });
	return new Response(null, { status: 404 });
});
Deno.addSignalListener("SIGTERM", async () => {
	await server.shutdown();
	Deno.exit(0);
});
