import type { Socket } from 'node:net';
import type { PeerIdentity } from '../tls';

/** The verified peer of an admin connection: the identity the mTLS listener admitted. */
export type AdminPeer = PeerIdentity;

/** Verified peer identity per TLS socket, written when the mTLS listener admits the connection. */
export class PeerRegistry {
  private readonly peers = new WeakMap<Socket, AdminPeer>();

  set(socket: Socket, peer: AdminPeer): void {
    this.peers.set(socket, peer);
  }

  get(socket: Socket | undefined): AdminPeer | undefined {
    return socket ? this.peers.get(socket) : undefined;
  }
}
