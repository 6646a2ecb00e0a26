import type { TLSSocket } from 'node:tls';

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
export const HTTP2_CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type PrefaceOutcome = 'ok' | 'timeout' | 'invalid' | 'closed';

/**
 * Waits until an admitted TLS connection has sent the HTTP/2 client preface, within
 * `timeoutMs`. The bytes read are put back (`unshift`) before it resolves, so the HTTP/2
 * server that takes the socket next reads them as if nobody had looked. 'invalid': the
 * first bytes are not the preface; 'closed': the peer went away first. The caller closes
 * the connection on anything but 'ok'.
 */
export function awaitHttp2Preface(socket: TLSSocket, timeoutMs: number): Promise<PrefaceOutcome> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let length = 0;
    const finish = (outcome: PrefaceOutcome) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('end', onClose);
      if (parts.length > 0 && !socket.destroyed) socket.unshift(Buffer.concat(parts, length));
      resolve(outcome);
    };
    const onReadable = () => {
      for (let piece = socket.read() as Buffer | null; piece !== null; piece = socket.read() as Buffer | null) {
        parts.push(piece);
        length += piece.length;
      }
      const seen = Buffer.concat(parts, length);
      const compared = Math.min(seen.length, HTTP2_CLIENT_PREFACE.length);
      if (!seen.subarray(0, compared).equals(HTTP2_CLIENT_PREFACE.subarray(0, compared))) finish('invalid');
      else if (compared === HTTP2_CLIENT_PREFACE.length) finish('ok');
    };
    const onClose = () => finish('closed');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('readable', onReadable);
    socket.once('close', onClose);
    socket.once('end', onClose);
  });
}
