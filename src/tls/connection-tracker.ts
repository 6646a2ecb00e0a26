import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { TrustDomain } from '../spiffe';
import type { PeerIdentity } from './peer-identity';

/** An admitted connection: the socket, who is on it and the chain it presented. */
export interface TrackedConnection {
  readonly socket: TLSSocket;
  readonly peer: PeerIdentity;
  readonly chain: readonly X509Certificate[];
}

/**
 * Open admitted connections grouped by the peer's trust domain, so trust changes can reach
 * exactly the connections they concern. Entries leave when their socket closes.
 */
export class ConnectionTracker {
  private readonly byDomain = new Map<string, Set<TrackedConnection>>();

  /** Tracks a connection until its socket closes; `onClose` runs once then. */
  add(conn: TrackedConnection, onClose: () => void): void {
    const key = conn.peer.trustDomain.name;
    let set = this.byDomain.get(key);
    if (set === undefined) {
      set = new Set();
      this.byDomain.set(key, set);
    }
    set.add(conn);
    conn.socket.once('close', () => {
      const current = this.byDomain.get(key);
      current?.delete(conn);
      if (current !== undefined && current.size === 0) this.byDomain.delete(key);
      onClose();
    });
  }

  inDomain(td: TrustDomain): TrackedConnection[] {
    return [...(this.byDomain.get(td.name) ?? [])];
  }

  all(): TrackedConnection[] {
    return [...this.byDomain.values()].flatMap((set) => [...set]);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byDomain.values()) n += set.size;
    return n;
  }

  countByDomain(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [td, set] of this.byDomain) out[td] = set.size;
    return out;
  }
}
