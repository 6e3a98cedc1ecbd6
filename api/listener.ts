import { createServer as createHttp1Server, type RequestListener, type Server as Http1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** Every HTTP/2 prior-knowledge (h2c) connection starts with this preface. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface DualProtocolServer {
  net: NetServer;
  http1: Http1Server;
  http2: Http2Server;
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops accepting connections and waits for open ones to finish (or `timeoutMs` to pass, then cuts them): idle
   * HTTP/1.1 keep-alive connections are closed as they become idle, HTTP/2 sessions get GOAWAY and close once their
   * open streams end.
   */
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
  // Node's Http2Server.close() leaves open sessions alone; close() ends each gracefully (GOAWAY: its open streams finish).
  const sessions = new Set<Http2Session>();
  http2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  // HTTP/1.1 connections and their open requests. Node's closeIdleConnections() does nothing here: it tracks
  // connections only from its own 'listening' event, and http1 never listens (the net server hands it sockets), so the
  // drain used to wait for the grace on every keep-alive connection. close() ends the idle ones itself.
  const http1Sockets = new Set<Socket>();
  const openRequests = new Map<Socket, number>();
  let closing = false;
  const ending = new WeakSet<Socket>();
  const endIfIdle = (socket: Socket) => {
    if (openRequests.has(socket) || ending.has(socket) || socket.destroyed) return;
    // The last answer's bytes go out first; the client's reply to our FIN is not waited for.
    ending.add(socket);
    socket.end(() => socket.destroy());
  };
  http1.on('request', (req, res) => {
    const socket = req.socket;
    openRequests.set(socket, (openRequests.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = (openRequests.get(socket) ?? 1) - 1;
      if (n > 0) openRequests.set(socket, n);
      else openRequests.delete(socket);
      if (closing) endIfIdle(socket);
    });
  });
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
        http1Sockets.add(socket);
        socket.once('close', () => {
          http1Sockets.delete(socket);
          openRequests.delete(socket);
        });
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
        // Idle HTTP/1.1 keep-alive connections are closed now, busy ones once their last response is done (and a sweep
        // catches any that slipped between).
        closing = true;
        const closeIdle = () => {
          for (const socket of http1Sockets) endIfIdle(socket);
        };
        closeIdle();
        const sweep = setInterval(closeIdle, 100);
        sweep.unref();
        net.once('close', () => clearInterval(sweep));
        http2.close();
        for (const session of sessions) session.close();
      }),
  };
}
