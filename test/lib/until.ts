// Waiting in tests: for an event or a condition, always with a deadline that fails the
// test and names what did not happen. A fixed sleep is too short on a busy machine
// and too long on an idle one, so none is used to wait for something to happen.

const DEFAULT_WITHIN_MS = 20_000;

/**
 * Resolves once `ok()` holds, checking every `everyMs`; rejects after `withinMs` with
 * `what` (a function is called then, to describe the state it ended in).
 */
export async function until(what: string | (() => string), ok: () => boolean | Promise<boolean>, withinMs = DEFAULT_WITHIN_MS, everyMs = 10): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `p`, or a rejection naming `what` once `withinMs` have passed. */
export function within<T>(p: Promise<T>, what: string, withinMs = DEFAULT_WITHIN_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`not within ${withinMs} ms: ${what}`)), withinMs); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Time passing for the code under test: a box's pace between records, a random moment
 * to strike at. Never a wait for something to happen (use until or within).
 */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An event a test waits for: `happened` resolves once `fire` is called. */
export function event<T = void>(): { fire: (v: T) => void; happened: Promise<T> } {
  let fire: (v: T) => void = () => {};
  const happened = new Promise<T>((r) => { fire = r; });
  return { fire, happened };
}
