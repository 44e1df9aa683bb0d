import type { Http2Server, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Server } from '@grpc/grpc-js';
import type { TunnelLogger } from './logger.js';

/** HTTP/2 receive window we ask for on the shared agent stream (per stream and per connection). */
export const DEFAULT_HTTP2_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * All sessions of an agent share one HTTP/2 stream, whose default 64 KiB receive
 * window caps the whole tunnel at 64 KiB per round trip (measured: ~1.8 MB/s at
 * 20 ms RTT). Per-session credits already bound what we buffer, so the HTTP/2
 * window only has to stay out of the way.
 *
 * The agent side raises it with the public channel option
 * 'grpc-node.flow_control_window'. grpc-js has no server-side equivalent, so here we
 * reach the underlying Node http2 servers through grpc-js's private `http2Servers`
 * map (present in grpc-js 1.10–1.14) and use Node's public http2 API on them. If a
 * grpc-js upgrade removes the map we log once and keep the default window: slower on
 * high-latency links, but correct.
 *
 * The same hook turns off Nagle's algorithm on accepted agent connections. grpc-js
 * does that for the sockets it dials (so agent → gateway is already covered) but not
 * for the ones its server accepts; with Nagle on, a gateway → agent frame written
 * while an earlier one is still unacknowledged waits for that ACK, which on a
 * request/response workload adds latency for nothing.
 */
export function tuneServerConnections(server: Server, bytes: number, logger: TunnelLogger): void {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map)) {
    logger.warn(
      'cannot tune agent connections (grpc-js internals changed): default HTTP/2 window and Nagle on; the tunnel may be slower',
    );
    return;
  }
  for (const http2Server of servers.keys()) {
    if (typeof http2Server.updateSettings !== 'function') continue;
    // Initial window of every new stream, announced in the server's SETTINGS.
    http2Server.updateSettings({ initialWindowSize: Math.min(bytes, 2 ** 31 - 1) });
    // 'connection' hands out the raw TCP socket (also under TLS); the session's own
    // socket is a proxy that refuses to be manipulated.
    http2Server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    // The connection-level window is not a setting: it must be raised per session.
    http2Server.on('session', (session: Http2Session) => {
      try {
        session.setLocalWindowSize(bytes);
      } catch {
        // Session already closing: nothing to tune.
      }
    });
  }
}
