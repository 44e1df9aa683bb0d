/** A Server-Sent Events reader for tests: collects every event of a response stream as it arrives. */
export interface Stream {
  events: { event: string; data: any }[];
  /** Resolves with the data of the next `event` not yet taken (waits up to timeoutMs). */
  next(event: string, timeoutMs?: number): Promise<any>;
  close(): void;
}

export async function openStream(baseUrl: string, token: string, path = '/api/reviews/stream'): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(baseUrl + path, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error('not an event stream');
  const events: { event: string; data: any }[] = [];
  const taken = new Set<number>();
  let wake: () => void = () => {};
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trim());
          }
          if (!data.length) continue;
          events.push({ event, data: JSON.parse(data.join('\n')) });
          wake();
        }
      }
    } catch {
      /* closed */
    }
  })();
  // The stream is open once `ready` arrived: anything published after that is delivered.
  const stream: Stream = {
    events,
    async next(event, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = events.findIndex((e, index) => e.event === event && !taken.has(index));
        if (i >= 0) {
          taken.add(i);
          return events[i]!.data;
        }
        if (Date.now() > deadline) throw new Error(`no ${event} event; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => abort.abort(),
  };
  await stream.next('ready');
  return stream;
}
