import { describe, expect, test } from "bun:test";
import http from "node:http";
import { connect, type Socket } from "node:net";
import { RUNTIMES, type Runtime, startServer, waitReady } from "../support/server.ts";

/**
 * SIGTERM under load: every request is answered 200 or not at all, never blamed on the client
 * (no 4xx) nor failed (no 5xx), and the server exits 0. Two kinds of client load the server at
 * once: node's http.Agent (headers and body in one write), and raw keep-alive sockets that send
 * the headers and the body in separate writes a moment apart, as curl and Python's requests do,
 * so that the listener's close often finds a request whose body is still on its way (which Deno
 * 2.9's shutdown() cuts off unless the adapter waits for it). After the signal, responses carry
 * "Connection: close", so clients move to new connections, refused once the listener closes;
 * only a request that raced the listener's close on a brand-new connection may go unanswered
 * (refused, reset or closed). A request written on a connection that had already carried a
 * response is always answered.
 */

const AGENT_CLIENTS = 16;
/**
 * Each split-write client's pause between headers and body. Spread out, so that whenever the
 * listener closes some request is waiting for its body, however long the server takes to
 * accept a connection under load.
 */
const BODY_DELAYS_MS = [1, 2, 5, 10, 25, 50, 100, 150];
/** Drains per runtime: a body still on its way at the close must be met, not hoped for. */
const ROUNDS = 3;
/** Bounds each client's loop; a round sends a few hundred requests per client. */
const MAX_REQUESTS_PER_CLIENT = 20_000;
const PATH = "/predict/gbdt-onnx";
const body = JSON.stringify({ Pclass: 2, Sex: "female", Age: 40, SibSp: 1, Parch: 1, Fare: 26 });

interface Outcome {
	client: "agent" | "split-write";
	sentAt: number;
	status?: number;
	error?: string;
	/** The connection had already carried a response before this request. */
	reused: boolean;
}

function sendWithAgent(url: URL, agent: http.Agent): Promise<Outcome> {
	return new Promise((resolve) => {
		const sentAt = performance.now();
		const outcome = (status?: number, error?: string): Outcome => ({
			client: "agent",
			sentAt,
			status,
			error,
			reused: request.reusedSocket,
		});
		const request = http.request(
			url,
			{
				method: "POST",
				agent,
				headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
			},
			(response) => {
				response.resume();
				response.on("end", () => resolve(outcome(response.statusCode)));
				response.on("error", (e: NodeJS.ErrnoException) =>
					resolve(outcome(response.statusCode, `response ${e.code ?? e.message}`)),
				);
			},
		);
		request.on("error", (e: NodeJS.ErrnoException) =>
			resolve(outcome(undefined, e.code ?? e.message)),
		);
		request.end(body);
	});
}

/** One keep-alive TCP connection sending a request at a time, headers and body apart. */
class SplitWriteConnection {
	readonly socket: Socket;
	responses = 0;
	private received = Buffer.alloc(0);
	private failure: string | undefined;
	private wake: (() => void) | undefined;

	constructor(url: URL) {
		this.socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
		this.socket.on("data", (chunk: Buffer) => {
			this.received = Buffer.concat([this.received, chunk]);
			this.wake?.();
		});
		this.socket.on("error", (e: NodeJS.ErrnoException) => {
			this.failure ??= e.code ?? e.message;
			this.wake?.();
		});
		this.socket.on("close", () => {
			this.failure ??= "closed without a response";
			this.wake?.();
		});
	}

	/** Sends one request; resolves with its status and whether the server will close, or why not. */
	async request(
		host: string,
		bodyDelayMs: number,
	): Promise<{ status: number; closing: boolean } | { error: string }> {
		const head =
			`POST ${PATH} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
			`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
		this.socket.write(head);
		await Bun.sleep(bodyDelayMs);
		if (!this.socket.destroyed) this.socket.write(body);
		for (;;) {
			const response = this.takeResponse();
			if (response) return response;
			if (this.failure) return { error: this.failure };
			await new Promise<void>((resolve) => {
				this.wake = resolve;
			});
		}
	}

	/** The first complete response in the buffer, removed from it. */
	private takeResponse(): { status: number; closing: boolean } | undefined {
		const end = this.received.indexOf("\r\n\r\n");
		if (end < 0) return undefined;
		const head = this.received.subarray(0, end).toString("latin1");
		const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
		if (!Number.isInteger(length)) throw new Error(`response without Content-Length:\n${head}`);
		if (this.received.length < end + 4 + length) return undefined;
		this.received = this.received.subarray(end + 4 + length);
		this.responses++;
		return {
			status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
			closing: /\r\nconnection: *close/i.test(head),
		};
	}
}

/** Request after request over keep-alive connections until the server refuses to connect. */
async function splitWriteClient(url: URL, bodyDelayMs: number, outcomes: Outcome[]): Promise<void> {
	let connection: SplitWriteConnection | undefined;
	for (let i = 0; i < MAX_REQUESTS_PER_CLIENT; i++) {
		connection ??= new SplitWriteConnection(url);
		const reused = connection.responses > 0;
		const sentAt = performance.now();
		const result = await connection.request(url.host, bodyDelayMs);
		if ("error" in result) {
			outcomes.push({ client: "split-write", sentAt, error: result.error, reused });
			connection.socket.destroy();
			connection = undefined;
			if (result.error === "ECONNREFUSED") return;
			continue;
		}
		outcomes.push({ client: "split-write", sentAt, status: result.status, reused });
		if (result.closing) {
			connection.socket.destroy();
			connection = undefined;
		}
	}
	connection?.socket.destroy();
}

async function agentClient(url: URL, agent: http.Agent, outcomes: Outcome[]): Promise<void> {
	for (let i = 0; i < MAX_REQUESTS_PER_CLIENT; i++) {
		const outcome = await sendWithAgent(url, agent);
		outcomes.push(outcome);
		if (outcome.error === "ECONNREFUSED") return;
	}
}

/** Starts the server, loads it, sends SIGTERM, and reports what every client saw. */
async function drainUnderLoad(runtime: Runtime) {
	const server = await startServer(runtime);
	await waitReady(server.url);
	const url = new URL(`${server.url}${PATH}`);
	const agent = new http.Agent({ keepAlive: true, maxSockets: AGENT_CLIENTS });
	const outcomes: Outcome[] = [];
	const clients = [
		...Array.from({ length: AGENT_CLIENTS }, () => agentClient(url, agent, outcomes)),
		...BODY_DELAYS_MS.map((delay) => splitWriteClient(url, delay, outcomes)),
	];
	// Load first, however slow the machine: three answers per client, on average, before the signal.
	const deadline = performance.now() + 30_000;
	while (outcomes.length < 3 * clients.length && performance.now() < deadline) await Bun.sleep(20);
	const signalledAt = performance.now();
	const exitCode = await server.stop();
	await Promise.all(clients);
	agent.destroy();
	return { exitCode, outcomes, signalledAt, stderr: server.stderr() };
}

describe.each(RUNTIMES)("%s drains on SIGTERM", (runtime) => {
	test(`under split-write and http.Agent load, ${ROUNDS} times`, async () => {
		for (let round = 0; round < ROUNDS; round++) {
			const { exitCode, outcomes, signalledAt, stderr } = await drainUnderLoad(runtime);
			expect(exitCode).toBe(0);
			expect(stderr).not.toContain("error:");
			const before = outcomes.filter((o) => o.sentAt < signalledAt);
			const after = outcomes.filter((o) => o.sentAt >= signalledAt);
			expect(before.length).toBeGreaterThan(AGENT_CLIENTS + BODY_DELAYS_MS.length);
			expect(before.filter((o) => o.status !== 200 || o.error)).toEqual([]);
			// Load went on through the drain and was served until the listener closed.
			expect(after.filter((o) => o.status === 200).length).toBeGreaterThan(0);
			expect(outcomes.filter((o) => o.status !== undefined && o.status !== 200)).toEqual([]);
			const unanswered = outcomes.filter((o) => o.status === undefined || o.error);
			expect(unanswered.filter((o) => o.reused)).toEqual([]);
			for (const o of unanswered) {
				expect(["ECONNREFUSED", "ECONNRESET", "EPIPE", "closed without a response"]).toContain(
					o.error as string,
				);
			}
		}
	}, 120_000);
});
