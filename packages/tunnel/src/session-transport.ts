/**
 * What a TunnelStream needs from the shared agent stream underneath it. Gateway and
 * agent implement it over their own frame type (GatewayFrame / AgentFrame).
 */
export interface SessionTransport {
  /** Queues one Data frame; false when the shared gRPC stream is backed up (await drained()). */
  sendData(sessionId: string, data: Uint8Array): boolean;
  sendCredit(sessionId: string, bytes: number): void;
  sendClose(sessionId: string, close: { abort: boolean; reason?: string; code?: string }): void;
  /** Queues one Report frame: in order with the session's other frames, outside its Data credit. */
  sendReport(sessionId: string, kind: string, payload: Uint8Array): void;
  /** Resolves when the shared stream accepts writes again, or once it is gone. */
  drained(): Promise<void>;
}
