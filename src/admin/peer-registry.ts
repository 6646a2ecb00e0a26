import type { Socket } from 'node:net';
import type { SpiffeId } from '../spiffe';

export interface AdminPeer {
  id: SpiffeId;
  fingerprint256: string;
}

/** Verified peer identity per TLS socket, written when the connection is verified. */
export class PeerRegistry {
  private readonly peers = new WeakMap<Socket, AdminPeer>();

  set(socket: Socket, peer: AdminPeer): void {
    this.peers.set(socket, peer);
  }

  get(socket: Socket | undefined): AdminPeer | undefined {
    return socket ? this.peers.get(socket) : undefined;
  }
}
