import type { RunningServer } from "./server.ts";

/** Sample lines of a Prometheus exposition as series -> value; HELP and TYPE lines left out. */
export function parseSamples(text: string): Map<string, number> {
	const lines = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
	return new Map(
		lines.map((line) => {
			const at = line.lastIndexOf(" ");
			return [line.slice(0, at), Number(line.slice(at + 1))];
		}),
	);
}

/**
 * Waits for the server's "ready:" log line rather than polling /ready, whose polls would be
 * counted in the metrics too. Warm-up has gone through the whole app by then, uncounted.
 */
export async function untilReadyLogged(server: RunningServer, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!/\bready: /.test(server.stderr())) {
		if (Date.now() > deadline) throw new Error(`not ready:\n${server.stderr()}`);
		await Bun.sleep(20);
	}
}
