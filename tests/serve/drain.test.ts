import { describe, expect, test } from "bun:test";
import http from "node:http";
import { RUNTIMES, startServer, waitReady } from "../support/server.ts";

/**
 * SIGTERM under load at concurrency 16: every request sent before the signal is answered 200
 * (none reset, none 5xx), and the server exits 0 within 5 s. After the signal, responses carry
 * "Connection: close", so clients move to new connections, which are refused once the listener
 * closes; a request that raced the listener's close on a brand-new connection may also be reset
 * unanswered. Neither was ever in flight.
 */

const CONCURRENCY = 16;
const body = JSON.stringify({ Pclass: 2, Sex: "female", Age: 40, SibSp: 1, Parch: 1, Fare: 26 });

interface Outcome {
	sentAt: number;
	status?: number;
	error?: string;
	reusedSocket: boolean;
}

function send(url: URL, agent: http.Agent): Promise<Outcome> {
	return new Promise((resolve) => {
		const sentAt = performance.now();
		const request = http.request(
			url,
			{
				method: "POST",
				agent,
				headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
			},
			(response) => {
				response.resume();
				const done = (error?: string) =>
					resolve({
						sentAt,
						status: response.statusCode,
						error,
						reusedSocket: request.reusedSocket,
					});
				response.on("end", () => done());
				response.on("error", (e: NodeJS.ErrnoException) => done(`response ${e.code ?? e.message}`));
			},
		);
		request.on("error", (e: NodeJS.ErrnoException) =>
			resolve({ sentAt, error: e.code ?? e.message, reusedSocket: request.reusedSocket }),
		);
		request.end(body);
	});
}

describe.each(RUNTIMES)("%s drains on SIGTERM", (runtime) => {
	test("under load at concurrency 16", async () => {
		const server = await startServer(runtime);
		await waitReady(server.url);
		const url = new URL(`${server.url}/predict/gbdt-onnx`);
		const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
		const outcomes: Outcome[] = [];
		const loop = async () => {
			// Until the server refuses us: it has stopped listening.
			for (;;) {
				const outcome = await send(url, agent);
				outcomes.push(outcome);
				if (outcome.error) return;
			}
		};
		const loops = Array.from({ length: CONCURRENCY }, loop);
		await Bun.sleep(400);

		const signalledAt = performance.now();
		const exitCode = await server.stop();
		const exitMs = performance.now() - signalledAt;
		await Promise.all(loops);
		agent.destroy();

		expect(exitCode).toBe(0);
		expect(exitMs).toBeLessThan(5000);
		const before = outcomes.filter((o) => o.sentAt < signalledAt);
		const after = outcomes.filter((o) => o.sentAt >= signalledAt);
		expect(before.length).toBeGreaterThan(CONCURRENCY * 5);
		expect(before.filter((o) => o.status !== 200 || o.error)).toEqual([]);
		// Load went on through the drain and was served until the listener closed.
		expect(after.filter((o) => o.status === 200).length).toBeGreaterThan(0);
		expect(outcomes.filter((o) => (o.status ?? 0) >= 500)).toEqual([]);
		for (const o of after.filter((o) => o.error)) {
			expect({ status: o.status, reusedSocket: o.reusedSocket }).toEqual({
				status: undefined,
				reusedSocket: false,
			});
			expect(["ECONNREFUSED", "ECONNRESET"]).toContain(o.error as string);
		}
		expect(server.stderr()).not.toContain("error:");
	}, 30_000);
});
