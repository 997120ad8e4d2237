/** A server the bench reads a bench-only route of (BENCH_ROUTES=1): its name, for messages. */
export interface Instrumented {
	readonly name: string;
	readonly server: { readonly baseUrl: string };
}

/**
 * GET one of a server's bench-only routes: its status, its text, and its JSON value (undefined
 * when the text is not JSON). No answer at all is one error naming the server and the URL.
 */
export async function getInstrument(
	server: Instrumented,
	path: string,
): Promise<{ status: number; text: string; value: unknown }> {
	const url = `${server.server.baseUrl}${path}`;
	const response = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(
		(error: unknown) => {
			throw new Error(`${server.name}: GET ${url} got no answer (${String(error)})`);
		},
	);
	const text = await response.text();
	return { status: response.status, text, value: parseJson(text) };
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}
