import { RegExpRouter } from "hono/router/reg-exp-router";

/** A mounted path pattern ("/predict/:model") and the methods it takes, as an Allow header. */
export interface MountedPath {
	readonly path: string;
	readonly allow: string;
}

/**
 * Every mounted path, found by a request's path whatever its method: what a request no route took
 * is answered with (405 and Allow when its path is mounted, else 404), and the route it is counted
 * under. Kept out of the app's own router on purpose: a second handler on a path (an `app.all`
 * answering 405) makes Hono run a composed chain for every request to that path instead of calling
 * its one handler, measured in-process at 0.4-0.7 µs a request on each runtime.
 */
export class MountedPaths {
	private readonly router = new RegExpRouter<MountedPath>();

	constructor(methodsByPath: ReadonlyMap<string, readonly string[]>) {
		for (const [path, methods] of methodsByPath) {
			const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : [])].join(", ");
			this.router.add("ALL", path, { path, allow });
		}
	}

	/** The mounted path `path` falls under (the last one mounted, if several match). */
	find(path: string): MountedPath | undefined {
		const [matches] = this.router.match("ALL", path);
		return matches.at(-1)?.[0];
	}
}
