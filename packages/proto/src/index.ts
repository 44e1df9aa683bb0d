// The tunnel contract: generated message types/schemas plus the grpc-js service
// definition that serves them. Run `pnpm --filter @warden/proto run generate`
// first: src/gen/ is generated, not committed.
export * from './gen/warden/tunnel/v1/tunnel_pb.js';
export * from './agent-tunnel-service.js';
export * from './require-auth.js';
export * from './session-open.js';
export * from './session-reports.js';
export * from './ssh-channel.js';
