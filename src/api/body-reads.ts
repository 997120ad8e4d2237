/**
 * Request bodies being read, and a gate that stops new reads from starting.
 *
 * Deno 2.9's server.shutdown() fails every request body not yet read in full, even one already
 * in the socket (denoland/deno#36809): the handler would see a client that stopped mid-body and
 * answer 400. So its adapter closes this gate, waits for the reads under way, and only then shuts
 * down. A request that reaches its body after the gate closed is parked: never answered, so that
 * the process's exit drops its connection, as a closed listener would have refused it. Node and
 * Bun never close the gate: their listeners' close leaves bodies readable.
 */
export class BodyReads {
	private reading = 0;
	private open = true;
	private idle: Promise<void> | undefined;
	private whenIdle: (() => void) | undefined;
	private announceParked: () => void = () => {};
	private readonly firstParked = new Promise<void>((resolve) => {
		this.announceParked = resolve;
	});

	/** Call before reading a body: true to go ahead (then call `end`), false once the gate closed. */
	begin(): boolean {
		if (!this.open) return false;
		this.reading++;
		return true;
	}

	end(): void {
		this.reading--;
		if (this.reading === 0) this.whenIdle?.();
	}

	/** What a request gets instead of its body once the gate closed: a wait that never ends. */
	park(): Promise<never> {
		this.announceParked();
		return new Promise<never>(() => {});
	}

	/** Closes the gate; resolves once no body read is under way. */
	close(): Promise<void> {
		this.open = false;
		this.idle ??=
			this.reading === 0
				? Promise.resolve()
				: new Promise((resolve) => {
						this.whenIdle = resolve;
					});
		return this.idle;
	}

	/** Resolves once a request has been parked. */
	untilParked(): Promise<void> {
		return this.firstParked;
	}
}

/** The process's gate: readComplete goes through it, and the Deno adapter closes it. */
export const bodyReads = new BodyReads();
