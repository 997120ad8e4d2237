import { existsSync, readFileSync } from "node:fs";
import { arch, cpus, hostname, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { type PeerName, peerVersion } from "./peers.ts";
import { findOnPath } from "./processes.ts";
import { type RuntimeName, runtimeVersion } from "./runtimes.ts";

interface Pinning {
	pinned: boolean;
	/** Which cores the server and generator used, or why pinning was not done. */
	note: string;
}

export function projectVersion(root: string): string {
	try {
		const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
			version?: string;
		};
		return pkg.version ?? "0.0.0";
	} catch {
		return "0.0.0";
	}
}

function onnxruntimeVersion(root: string): string | null {
	const file = join(root, "node_modules", "onnxruntime-node", "package.json");
	if (!existsSync(file)) return null;
	return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version ?? null;
}

/** Server on core 0 and generator on core 1, only where taskset exists and there are two cores. */
export function resolvePinning(
	requested: boolean,
): Pinning & { server?: string; generator?: string } {
	if (!requested) return { pinned: false, note: "not requested" };
	if (platform() !== "linux" || !findOnPath("taskset")) {
		return { pinned: false, note: "requested, but taskset is not available" };
	}
	if (cpus().length < 2) return { pinned: false, note: "requested, but there is only one core" };
	return {
		pinned: true,
		note: "server on core 0, load generator on core 1",
		server: "0",
		generator: "1",
	};
}

export async function describeEnvironment(
	root: string,
	runtimes: readonly RuntimeName[],
	peers: readonly PeerName[] = [],
) {
	const cpuList = cpus();
	const versions: Record<string, string> = {};
	for (const runtime of runtimes) versions[runtime] = await runtimeVersion(runtime, root);
	for (const peer of peers) versions[peer] = await peerVersion(peer, root);
	return {
		host: hostname(),
		cpuModel: cpuList[0]?.model.trim() ?? "unknown",
		cores: cpuList.length,
		memoryMiB: Math.round(totalmem() / 2 ** 20),
		os: `${platform()} ${release()} ${arch()}`,
		runtimes: versions,
		onnxruntime: onnxruntimeVersion(root),
		benchRuntime: `bun ${process.versions.bun ?? "?"}`,
		projectVersion: projectVersion(root),
	};
}
