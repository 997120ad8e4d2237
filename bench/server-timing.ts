import { parseInferMs } from "./loadgen/types.ts";
import { median } from "./stats.ts";

/**
 * oha cannot report response headers, so with oha the bench reads Server-Timing from a small side
 * sample of its own requests, sent after the measured run so it does not disturb it.
 */
export async function sampleInferMs(
	url: string,
	init: { method: "GET" | "POST"; body?: string; contentType?: string },
	count = 50,
): Promise<{ medianMs: number | null; count: number }> {
	const values: number[] = [];
	for (let i = 0; i < count; i++) {
		const response = await fetch(url, {
			method: init.method,
			body: init.method === "POST" ? init.body : undefined,
			headers: init.contentType ? { "content-type": init.contentType } : {},
			signal: AbortSignal.timeout(5000),
		});
		await response.arrayBuffer();
		const ms = parseInferMs(response.headers.get("server-timing"));
		if (ms !== null) values.push(ms);
	}
	return { medianMs: median(values), count: values.length };
}
