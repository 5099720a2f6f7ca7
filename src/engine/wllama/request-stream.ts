/**
 * One llama.cpp (wllama) request as an async stream that ends only when the request has settled.
 *
 * wllama's own async iterator runs the request in the background: leaving the loop early (a stop
 * string, an abort, the backend measurement's deadline) returns at once while wllama is still
 * polling for results and then cancelling in its worker. A next request started in that window
 * talks to the worker over the same channel at the same time, and the replies get mixed up (seen
 * as "Invalid typed array length: 1163217991" mid-answer). Here the stream is fed by wllama's
 * `onData` callback, and leaving it waits for the request's promise, so requests never overlap.
 */
export async function* requestStream<T>(
  start: (onData: (chunk: T) => void) => Promise<unknown>,
  signal: AbortSignal,
): AsyncGenerator<T, void, void> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const settled = start((chunk) => {
    queue.push(chunk);
    nudge();
  }).then(
    () => {
      finished = true;
      nudge();
    },
    (error: unknown) => {
      finished = true;
      failure = { error };
      nudge();
    },
  );
  signal.addEventListener('abort', nudge);
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      if (finished) {
        if (failure) throw failure.error;
        return;
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', nudge);
    // The caller aborts the request before leaving early; wllama then cancels it in its worker.
    await settled;
  }
}
