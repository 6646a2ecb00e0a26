/** Where a listener really listens (port 0 in the configuration resolves here). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * A network listener of the gateway (gRPC, admin, bundle endpoint, ops). The wiring starts
 * the enabled ones last, once every service they reach has started, and stops them first.
 */
export interface GatewayListener {
  /** The configuration section it is enabled by, for logs (`grpc`, `admin`, …). */
  readonly name: string;
  readonly enabled: boolean;
  /** Starts listening. @throws ParleyError config_invalid naming the port when it is taken */
  listen(): Promise<ListenAddress>;
  /** Stops accepting, lets running work finish as the listener defines, closes. */
  close(): Promise<void>;
}
