// A do-nothing TCP relay in Node: every accepted connection is piped to the target and back,
// with Nagle off as on Warden's sockets. bench/pgbench.ts runs one, and two in series, as
// references: what a Node process in the data path costs on this host before it parses,
// decides, multiplexes or records anything. Two in series is the shape of Warden's path
// (gateway, then agent), without the gRPC tunnel or the Postgres protocol.
//
//   node --import tsx bench/tcp-relay.ts <listen port> <target port>
import net from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
if (!listenPort || !targetPort) throw new Error('usage: tcp-relay.ts <listen port> <target port>');

net
  .createServer({ noDelay: true }, (client) => {
    const target = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    client.pipe(target).on('error', () => client.destroy());
    target.pipe(client).on('error', () => target.destroy());
    client.on('error', () => target.destroy());
    target.on('error', () => client.destroy());
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`relay listening on ${listenPort} → ${targetPort}`));
