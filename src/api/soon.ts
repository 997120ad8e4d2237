/**
 * Values that are there at once on some paths and later on others: a handler whose body the
 * runtime already holds answers without an await (api/body.ts, readBody), which on Node's adapter
 * is the cheaper response path, and awaits only where it must.
 */

/** A value now, or once it is there. */
export type Soon<T> = T | Promise<T>;

/** `next` applied to `value`: at once when it is there, else once it is. */
export const whenThere = <T, U>(value: Soon<T>, next: (ready: T) => Soon<U>): Soon<U> =>
	value instanceof Promise ? value.then(next) : next(value);

/**
 * `run()`'s result, with `failed` seeing any error it throws or rejects with (it rethrows, after
 * recording whatever it records), whether the result came at once or later.
 */
export function guarded<T>(run: () => Soon<T>, failed: (error: unknown) => never): Soon<T> {
	try {
		const result = run();
		return result instanceof Promise ? result.catch(failed) : result;
	} catch (error) {
		return failed(error);
	}
}
