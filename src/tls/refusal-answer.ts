import { constants as h2, createServer, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { refusalMessage, type RefusalAlert } from './domain/refusal-alert';

/** How long a refused connection may stay open to read its answer (gRPC clients send at once). */
const ANSWER_WINDOW_MS = 500;
/** Streams a refused connection may open at once; the session ends after the first answer. */
const MAX_STREAMS = 8;

let answerer: Http2Server | undefined;
/** The alert of the connection being handed over ('session' fires synchronously within it). */
let handing: RefusalAlert = 'bad_certificate';

/**
 * Tells a refused gRPC client why, where TLS itself cannot: Node completes the handshake
 * before the gateway can verify the chain per trust domain, and sends no alert after it. The
 * connection (ALPN h2) is served by a bare HTTP/2 session that answers every stream with
 * gRPC UNAUTHENTICATED "client certificate refused: <alert>", then GOAWAY after the first
 * answer; no request reaches grpc-js. Bounded: ANSWER_WINDOW_MS, then the socket is destroyed.
 */
export function answerRefused(socket: TLSSocket, alert: RefusalAlert): void {
  const timer = setTimeout(() => socket.destroy(), ANSWER_WINDOW_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', () => socket.destroy());
  answerer ??= createAnswerer();
  handing = alert;
  answerer.emit('connection', socket);
}

function createAnswerer(): Http2Server {
  const server = createServer({ settings: { maxConcurrentStreams: MAX_STREAMS } });
  server.on('session', (session: ServerHttp2Session) => {
    const alert = handing;
    session.on('error', () => session.destroy());
    session.on('stream', (stream: ServerHttp2Stream) => {
      stream.on('error', () => stream.destroy());
      // A trailers-only response; the message is printable ASCII without '%', so sent as is.
      stream.respond(
        { [h2.HTTP2_HEADER_STATUS]: 200, [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', 'grpc-status': '16', 'grpc-message': refusalMessage(alert) },
        { endStream: true },
      );
      session.close();
    });
  });
  return server;
}
