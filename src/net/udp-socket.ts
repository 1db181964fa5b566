// Binding and closing UDP sockets, shared by discovery, the update publisher and the update
// receiver. Binding always names one address (never the wildcard: callers check); a failure to
// bind becomes a BindError carrying the system error.
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { formatAddress } from "./address.js";
import { BindError } from "./errors.js";

/** Binds a udp4 socket to `address:port`; `reuseAddr` lets several sockets on this host share the port. */
export function bindUdpSocket(
  what: string,
  address: string,
  port: number,
  reuseAddr: boolean,
): Promise<Socket> {
  const socket = createSocket({ type: "udp4", reuseAddr });
  return new Promise((resolve, reject) => {
    socket.once("error", (error) => {
      socket.close();
      reject(new BindError(what, formatAddress(address, port), error));
    });
    socket.bind({ address, port, exclusive: false }, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

/** Connects a bound `socket` to address:port, so that sends need no address; rejects with the socket's error. */
export function connectUdpSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.connect(port, address, () => {
      socket.removeListener("error", reject);
      resolve();
    });
  });
}

/** Closes `socket`; resolves at once if it was already closed. */
export function closeUdpSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch (error) {
      // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing left to release.
      if ((error as { code?: unknown }).code !== "ERR_SOCKET_DGRAM_NOT_RUNNING") throw error;
      resolve();
    }
  });
}
