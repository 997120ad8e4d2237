import type { LoadGenerator } from "./loadgen/types.ts";
import type { Options } from "./options.ts";
import { type PeerName, peerCells, peerSkips } from "./peers.ts";
import type { Results } from "./results.ts";
import { freePort, startServer } from "./runtimes.ts";
import { checkTarget } from "./targets.ts";

/**
 * Peers and targets, the servers that are not our service, checked before the run starts: a
 * missing Python package or a target that refuses the body is one line then, not a failure in
 * the middle of round 2.
 */

/** The peers that have a cell among --models: the ones the run starts. */
export const peersRun = (options: Pick<Options, "peers" | "models">): PeerName[] =>
	options.peers.filter((peer) => peerCells(peer, options.models).length > 0);

/**
 * Starts each peer once (ready, then SIGTERM) and sends each target one request. Throws the first
 * problem's one line: a peer that cannot start says why in its own last line (the FastAPI peer
 * names peers/fastapi/setup.sh when a package is missing).
 */
export async function checkOutside(
	options: Pick<Options, "peers" | "targets" | "models">,
	settings: { root: string; body: string; readyTimeoutMs: number; generator: LoadGenerator },
): Promise<void> {
	for (const peer of peersRun(options)) {
		const server = await startServer(peer, {
			root: settings.root,
			port: await freePort(),
			readyTimeoutMs: settings.readyTimeoutMs,
		});
		await server.stop(2000);
	}
	for (const target of options.targets) {
		// The built-in generator is a plain-TCP HTTP/1.1 client (loadgen/builtin-worker.ts).
		if (target.url.startsWith("https:") && settings.generator.info.name === "builtin") {
			throw new Error(
				`--target ${target.name}: the built-in load generator speaks plain http only; use --loadgen oha or h2load for https`,
			);
		}
		await checkTarget(target, settings.body);
	}
}

/** results.json's record of the --models each peer run has no cell for. */
export function skippedRecord(
	options: Pick<Options, "peers" | "models">,
): NonNullable<Results["skipped"]> {
	return options.peers.flatMap((peer) => {
		const models = peerSkips(peer, options.models);
		return models.length > 0 ? [{ runtime: peer, models }] : [];
	});
}
