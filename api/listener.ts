import { createServer as createHttp1Server, type RequestListener, type Server as Http1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** Every HTTP/2 prior-knowledge (h2c) connection starts with this preface. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface DualProtocolServer {
  net: NetServer;
  http1: Http1Server;
  http2: Http2Server;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections and waits for open ones to finish (or `timeoutMs` to pass). */
  close(timeoutMs: number): Promise<void>;
}

/**
 * One cleartext port for HTTP/1.1 (Connect, gRPC-Web, health, metrics) and HTTP/2 prior knowledge
 * (gRPC, Connect over h2c). Node cannot serve both on one unencrypted socket by itself, so we peek at
 * the first bytes of each connection and hand it to the right server. TLS is terminated in front of us.
 */
function replayingStream(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  stream.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  socket.on('error', (err) => stream.destroy(err));
  return stream;
}

export function createDualProtocolServer(http1Handler: RequestListener, http2Handler: RequestListener): DualProtocolServer {
  const http1 = createHttp1Server(http1Handler);
  const http2 = createHttp2Server({}, http2Handler as never);
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    // RPC frames are small and latency-bound; Nagle + delayed ACK would add ~40 ms per exchange.
    socket.setNoDelay(true);
    socket.once('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, H2_PREFACE.length);
      const isH2 = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && buffered.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off('data', onData);
      if (isH2) {
        // Node's HTTP/2 session reads the socket's native handle directly and would miss bytes we
        // already consumed, so it gets a stream that replays them first.
        http2.emit('connection', replayingStream(socket, buffered));
      } else {
        socket.pause();
        socket.unshift(buffered);
        http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  http1.keepAliveTimeout = 65_000;

  return {
    net,
    http1,
    http2,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        net.once('error', reject);
        net.listen(port, host, () => {
          net.off('error', reject);
          const addr = net.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: (timeoutMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
          resolve();
        }, timeoutMs);
        timer.unref();
        net.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Busy HTTP/1.1 keep-alive connections become idle after their response; keep closing them.
        http1.closeIdleConnections();
        const sweep = setInterval(() => http1.closeIdleConnections(), 100);
        sweep.unref();
        net.once('close', () => clearInterval(sweep));
        http2.close();
      }),
  };
}
