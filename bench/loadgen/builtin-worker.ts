/**
 * The built-in load generator's measuring process. It runs apart from the bench (spawned with
 * Node) so that its event loop only sends requests and times them.
 *
 * A raw node:net HTTP/1.1 client rather than node:http: against the same local server it measured
 * about half the client-side overhead per request of http.request with a keep-alive Agent (see
 * bench/README.md), and the bench needs that overhead small next to ~100 µs requests.
 *
 * Input: one JSON argument (WorkerConfig). Output: one JSON line (WorkerOutput) on stdout.
 */
import { connect, type Socket } from "node:net";
import { type HostCpuReader, openSteal, readCpuTicks, type StealWindow } from "../steal.ts";
import { type AfterWarmup, parseInferMs, sendAfterWarmup, targetInTurn } from "./types.ts";

export interface WorkerConfig {
	url: string;
	method: string;
	body: string;
	contentType: string;
	requests: number;
	concurrency: number;
	/** Unmeasured requests sent first on the same connections. */
	warmup: number;
	timeoutMs: number;
	/**
	 * Duration mode: the measured phase issues requests until this many ms have passed (then lets
	 * the ones in flight finish) instead of counting `requests`.
	 */
	durationMs?: number;
	/**
	 * Requests rotate over these, one after another across all connections. They may be on
	 * different servers: each connection then keeps one keep-alive socket per origin (host:port).
	 */
	targets?: { method: string; url: string; body: string }[];
	/**
	 * With targets: every other cycle runs in reverse (A B, B A, A B, ... for two), so that no
	 * target always goes first within a cycle.
	 */
	alternate?: boolean;
	/** With targets: each target this many times in a row before the next (LoadRequest.block). */
	block?: number;
	/** Sent once between the warm-up and the measured phase (LoadRequest.afterWarmup). */
	afterWarmup?: AfterWarmup;
	/**
	 * Read host CPU steal on these CPUs over the measured phase (LoadRequest.steal): this process
	 * reads /proc/stat right after the warm-up and afterWarmup, and right after the phase ends.
	 */
	steal?: StealWindow;
}

export interface WorkerOutput {
	wallUs: number;
	errors: number;
	/** A few distinct error messages, for the bench's diagnostics. */
	errorMessages: string[];
	/**
	 * Flattened [startUs, durationUs, status, inferMs or -1, target, index] per completed response:
	 * `target` indexes `targets` (0 without them), `index` is the request's place in the measured
	 * phase's order of issue (so a consumer can pair requests even when some failed).
	 */
	samples: number[];
	/** `errors` split by target. */
	targetErrors: number[];
	/** This process's utime+stime over the measured phase (warm-up excluded), µs. */
	cpuUs: number;
	/**
	 * With `steal`: host CPU steal (%) over the measured phase, null when /proc/stat was unreadable
	 * or no tick passed. Absent without it.
	 */
	hostStealPct?: number | null;
}

/** Numbers per sample in WorkerOutput.samples. */
export const SAMPLE_FIELDS = 6;

const CRLF2 = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

interface Response {
	status: number;
	serverTiming: string | null;
	/** Bytes of the buffer the response used. */
	consumed: number;
	close: boolean;
}

/** Parses one complete response from the front of `buf`, or returns null if it is incomplete. */
export function parseResponse(buf: Buffer): Response | null {
	const headerEnd = buf.indexOf(CRLF2);
	if (headerEnd < 0) return null;
	const lines = buf.toString("latin1", 0, headerEnd).split("\r\n");
	const statusLine = lines[0] ?? "";
	const status = Number(statusLine.split(" ")[1]);
	let contentLength = -1;
	let chunked = false;
	let close = statusLine.startsWith("HTTP/1.0");
	let serverTiming: string | null = null;
	for (let i = 1; i < lines.length; i++) {
		const line = lines[i] as string;
		const colon = line.indexOf(":");
		if (colon < 0) continue;
		const name = line.slice(0, colon).trim().toLowerCase();
		const value = line.slice(colon + 1).trim();
		if (name === "content-length") contentLength = Number(value);
		else if (name === "transfer-encoding") chunked = value.toLowerCase().includes("chunked");
		else if (name === "connection") close = value.toLowerCase() === "close";
		else if (name === "server-timing")
			serverTiming = serverTiming ? `${serverTiming}, ${value}` : value;
	}
	const bodyStart = headerEnd + 4;
	if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
		return { status, serverTiming, consumed: bodyStart, close };
	}
	if (chunked) {
		let at = bodyStart;
		for (;;) {
			const lineEnd = buf.indexOf(CRLF, at);
			if (lineEnd < 0) return null;
			const size = Number.parseInt(buf.toString("latin1", at, lineEnd), 16);
			if (Number.isNaN(size)) throw new Error("bad chunk size");
			if (size === 0) {
				// Skip any trailers: the message ends at the first empty line.
				const end = buf.indexOf(CRLF2, lineEnd);
				if (end >= 0) return { status, serverTiming, consumed: end + 4, close };
				return buf.length >= lineEnd + 4 && buf.subarray(lineEnd, lineEnd + 4).equals(CRLF2)
					? { status, serverTiming, consumed: lineEnd + 4, close }
					: null;
			}
			at = lineEnd + 2 + size + 2;
			if (buf.length < at) return null;
		}
	}
	if (contentLength < 0) throw new Error("response without Content-Length or chunked encoding");
	if (buf.length < bodyStart + contentLength) return null;
	return { status, serverTiming, consumed: bodyStart + contentLength, close };
}

export function requestBytes(config: WorkerConfig): Buffer {
	const url = new URL(config.url);
	const body = Buffer.from(config.body, "utf8");
	let head = `${config.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n`;
	if (config.method !== "GET") {
		head += `Content-Type: ${config.contentType}\r\nContent-Length: ${body.length}\r\n`;
	}
	return Buffer.concat([
		Buffer.from(`${head}\r\n`, "latin1"),
		config.method === "GET" ? Buffer.alloc(0) : body,
	]);
}

/** One request as bytes, with the server it goes to. */
interface Target {
	bytes: Buffer;
	/** Index into the worker's origins. */
	origin: number;
}

interface Origin {
	host: string;
	port: number;
}

/** How requests rotate over the targets: `block` in a row each, every other cycle reversed or not. */
interface Order {
	alternate: boolean;
	block: number;
}

/**
 * Which target the request issued `i`-th goes to: plain rotation over `n` targets, `block` requests
 * each in turn, or with `alternate` every other cycle reversed (two targets: A B B A A B B A ...).
 */
export function targetOf(i: number, n: number, { alternate, block }: Order): number {
	const position = targetInTurn(i, n, block);
	return alternate && Math.floor(i / block / n) % 2 === 1 ? n - 1 - position : position;
}

interface Phase {
	/** Requests left to send in this phase: the one counter every connection shares. */
	remaining: number;
	/** Duration mode: no request starts at or after this hrtime. */
	deadline: bigint | null;
	/** Requests started so far, which picks the next target when they rotate. */
	issued: number;
	order: Order;
	record: boolean;
	t0: bigint;
	samples: number[];
	errors: number;
	targetErrors: number[];
	errorMessages: Set<string>;
	idleLanes: number;
	wallUs: number;
	done: () => void;
}

/** A keep-alive socket to one origin and the bytes it has received but not yet consumed. */
interface Connection {
	socket: Socket;
	buf: Buffer;
}

/**
 * One of the C connections (with targets on several servers, one socket per server). It sends
 * sequentially, reconnecting when a server closes, and keeps its sockets between phases so the
 * measured phase reuses the warmed-up connections.
 */
class Lane {
	private readonly connections: (Connection | null)[];
	private start = 0n;
	private inFlight = false;
	/** The target, origin and measured-phase index of the request in flight. */
	private target = 0;
	private origin = 0;
	private index = 0;
	private timer: ReturnType<typeof setTimeout> | undefined;
	private phase: Phase | null = null;
	private readonly origins: readonly Origin[];
	private readonly targets: readonly Target[];
	private readonly timeoutMs: number;

	constructor(origins: readonly Origin[], targets: readonly Target[], timeoutMs: number) {
		this.origins = origins;
		this.targets = targets;
		this.timeoutMs = timeoutMs;
		this.connections = origins.map(() => null);
	}

	run(phase: Phase): void {
		this.phase = phase;
		this.next();
	}

	close(): void {
		for (let origin = 0; origin < this.connections.length; origin++) this.drop(origin);
	}

	private drop(origin: number): void {
		const connection = this.connections[origin];
		this.connections[origin] = null;
		connection?.socket.destroy();
	}

	private open(origin: number): Connection {
		const { host, port } = this.origins[origin] as Origin;
		const connection: Connection = {
			socket: connect({ host, port, noDelay: true }),
			buf: Buffer.alloc(0),
		};
		// A socket the lane has let go of (closed by the server after a full response) must not
		// fail the request now running on its successor; nor may one whose server is not the one
		// the request in flight went to.
		const current = () => this.connections[origin] === connection;
		const lost = (message: string) => {
			if (!current()) return;
			if (this.inFlight && this.origin === origin) this.fail(message);
			else this.drop(origin);
		};
		connection.socket.on("data", (chunk: Buffer) => {
			if (current()) this.onData(origin, connection, chunk);
		});
		connection.socket.on("error", (error) => lost(error.message));
		connection.socket.on("close", () => lost("connection closed before the response was complete"));
		return connection;
	}

	private onData(origin: number, connection: Connection, chunk: Buffer): void {
		connection.buf = connection.buf.length === 0 ? chunk : Buffer.concat([connection.buf, chunk]);
		if (origin !== this.origin) return;
		let response: Response | null;
		try {
			response = parseResponse(connection.buf);
		} catch (error) {
			this.fail((error as Error).message);
			return;
		}
		if (!response || !this.inFlight) return;
		const end = process.hrtime.bigint();
		this.inFlight = false;
		clearTimeout(this.timer);
		const phase = this.phase as Phase;
		if (phase.record) {
			phase.samples.push(
				Number(this.start - phase.t0) / 1000,
				Number(end - this.start) / 1000,
				response.status,
				parseInferMs(response.serverTiming) ?? -1,
				this.target,
				this.index,
			);
		}
		connection.buf = connection.buf.subarray(response.consumed);
		if (response.close) this.drop(origin);
		this.next();
	}

	private fail(message: string): void {
		if (!this.inFlight) return;
		this.inFlight = false;
		clearTimeout(this.timer);
		const phase = this.phase as Phase;
		phase.errors++;
		phase.targetErrors[this.target] = (phase.targetErrors[this.target] ?? 0) + 1;
		phase.errorMessages.add(message);
		this.drop(this.origin);
		this.next();
	}

	private next(): void {
		const phase = this.phase as Phase;
		const now = process.hrtime.bigint();
		if (phase.remaining <= 0 || (phase.deadline !== null && now >= phase.deadline)) {
			phase.idleLanes++;
			phase.done();
			return;
		}
		phase.remaining--;
		this.index = phase.issued++;
		this.target = targetOf(this.index, this.targets.length, phase.order);
		const target = this.targets[this.target] as Target;
		this.origin = target.origin;
		this.inFlight = true;
		// As with oha, a request's time includes opening its connection when it needs one.
		this.start = now;
		const connection = this.connections[this.origin] ?? this.open(this.origin);
		this.connections[this.origin] = connection;
		this.timer = setTimeout(
			() => this.fail(`timed out after ${this.timeoutMs} ms`),
			this.timeoutMs,
		);
		connection.socket.write(target.bytes);
	}
}

function runPhase(
	lanes: readonly Lane[],
	targets: number,
	order: Order,
	requests: number,
	record: boolean,
	durationMs: number | null = null,
): Promise<Phase> {
	return new Promise((resolve) => {
		const t0 = process.hrtime.bigint();
		const phase: Phase = {
			remaining: durationMs === null ? requests : Number.POSITIVE_INFINITY,
			deadline: durationMs === null ? null : t0 + BigInt(Math.round(durationMs * 1e6)),
			issued: 0,
			order,
			record,
			t0,
			samples: [],
			errors: 0,
			targetErrors: Array.from({ length: targets }, () => 0),
			errorMessages: new Set(),
			idleLanes: 0,
			wallUs: 0,
			done: () => {
				if (phase.idleLanes !== lanes.length) return;
				phase.wallUs = Number(process.hrtime.bigint() - phase.t0) / 1000;
				resolve(phase);
			},
		};
		for (const lane of lanes) lane.run(phase);
	});
}

const cpuTotalUs = (usage: NodeJS.CpuUsage): number => usage.user + usage.system;

/**
 * The warm-up runs on the same connections as the measured requests, so those include neither
 * connection setup nor this process's own cold start (its first requests run unoptimised code).
 * `readTicks` reads /proc/stat for `config.steal` (the tests give a fake).
 */
export async function runWorker(
	config: WorkerConfig,
	readTicks: HostCpuReader = readCpuTicks,
): Promise<WorkerOutput> {
	const given =
		config.targets && config.targets.length > 0
			? config.targets
			: [{ method: config.method, url: config.url, body: config.body }];
	const origins: Origin[] = [];
	const targets: Target[] = given.map((t) => {
		const url = new URL(t.url);
		const host = url.hostname.replace(/^\[|\]$/g, "");
		const port = Number(url.port || 80);
		let origin = origins.findIndex((o) => o.host === host && o.port === port);
		if (origin < 0) origin = origins.push({ host, port }) - 1;
		return { bytes: requestBytes({ ...config, ...t }), origin };
	});
	const order = { alternate: config.alternate ?? false, block: config.block ?? 1 };
	const duration = config.durationMs ?? null;
	const connections = Math.max(
		1,
		duration === null ? Math.min(config.concurrency, config.requests) : config.concurrency,
	);
	const lanes = Array.from(
		{ length: connections },
		() => new Lane(origins, targets, config.timeoutMs),
	);
	try {
		if (config.warmup > 0) await runPhase(lanes, targets.length, order, config.warmup, false);
		await sendAfterWarmup(config.afterWarmup);
		const closeSteal = openSteal(config.steal, readTicks);
		const cpuBefore = process.cpuUsage();
		const measured = await runPhase(lanes, targets.length, order, config.requests, true, duration);
		const cpuUs = cpuTotalUs(process.cpuUsage(cpuBefore));
		const hostStealPct = closeSteal();
		return {
			wallUs: duration === null && config.requests === 0 ? 0 : measured.wallUs,
			errors: measured.errors,
			errorMessages: [...measured.errorMessages].slice(0, 5),
			samples: measured.samples,
			targetErrors: measured.targetErrors,
			cpuUs,
			...(hostStealPct === undefined ? {} : { hostStealPct }),
		};
	} finally {
		for (const lane of lanes) lane.close();
	}
}

if (import.meta.main) {
	const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
	runWorker(config).then(
		(output) => {
			process.stdout.write(`${JSON.stringify(output)}\n`);
		},
		(error: unknown) => {
			process.stderr.write(`builtin load generator: ${(error as Error).message}\n`);
			process.exitCode = 1;
		},
	);
}
