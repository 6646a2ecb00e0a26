import type { PeerIdentity } from './peer-identity';

interface Entry {
  readonly peer: PeerIdentity;
}

/**
 * Verified peers by connection address, for code that sees a gRPC call but not its socket.
 *
 * grpc-js server interceptors and handlers only get `call.getPeer()`, which is the remote
 * `address:port` of the socket under the HTTP/2 session: for sockets handed over through
 * `createConnectionInjector` that is our own TLS socket, so the same string keys both sides.
 * The listener adds a peer after verification and *before* handing the socket to grpc-js,
 * and removes it when the socket closes. While open, a remote address:port names one TCP
 * connection to our listener; should two ever share it (one remote socket reaching two of
 * our local addresses), the key is ambiguous and resolves to nothing (fail closed).
 */
export class PeerDirectory {
  private readonly byKey = new Map<string, Entry[]>();

  /** The key grpc-js `getPeer()` returns for a socket. */
  static keyOf(remoteAddress: string, remotePort: number): string {
    return `${remoteAddress}:${remotePort}`;
  }

  /** Registers a peer; returns the function that removes exactly this registration. */
  add(peer: PeerIdentity): () => void {
    const key = PeerDirectory.keyOf(peer.remoteAddress, peer.remotePort);
    const entry: Entry = { peer };
    const list = this.byKey.get(key);
    if (list === undefined) this.byKey.set(key, [entry]);
    else list.push(entry);
    return () => {
      const current = this.byKey.get(key);
      if (current === undefined) return;
      const rest = current.filter((e) => e !== entry);
      if (rest.length === 0) this.byKey.delete(key);
      else this.byKey.set(key, rest);
    };
  }

  /** The peer of a `getPeer()` string; undefined when unknown or ambiguous. */
  get(peerKey: string): PeerIdentity | undefined {
    const list = this.byKey.get(peerKey);
    return list !== undefined && list.length === 1 ? list[0].peer : undefined;
  }

  /** The verified peer of a grpc-js call (interceptor call or handler call object). */
  peerOf(call: { getPeer(): string }): PeerIdentity | undefined {
    return this.get(call.getPeer());
  }

  /** Number of registered connections. */
  get size(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }
}
