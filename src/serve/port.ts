import { createServer } from "node:net";

/**
 * Whether something already listens on host:port. Workers bind with SO_REUSEPORT, which lets
 * them join another server's socket on that port and silently split its traffic; an exclusive
 * probe listener fails on any listener there, sharing or not. Other failures (a HOST this
 * machine does not have, say) are left for the workers to report.
 */
export function portTaken(host: string, port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "EADDRINUSE"));
		probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
	});
}
