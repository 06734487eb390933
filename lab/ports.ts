/**
 * Ports for the lab's listeners that stop and start again on the same port
 * (a node's API after `systemctl restart`, a simulated orchestrator, a
 * memberlist port in the inventory).
 *
 * A port from `listen(0)` is one of the kernel's ephemeral ports: once its
 * listener stops, the kernel may hand it to any outgoing connection or any
 * other `listen(0)` on the machine, and the restart then fails with
 * EADDRINUSE (seen in CI: a gossip node stopped and started by a test while
 * another test file ran beside it). So these ports come from below the
 * ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999 by default),
 * which the kernel never hands out by itself, chosen at random, checked free
 * by binding, and never handed out twice by one process.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

const LOWEST = 20_000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => {
      const got = (s.address() as AddressInfo).port;
      s.close(() => resolve(got === port));
    });
  });
}

/** A free loopback port below the ephemeral range, for a listener that restarts on it; never the same twice per process. */
export async function restartablePort(): Promise<number> {
  const top = ephemeralStart();
  for (let i = 0; i < 200; i++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`lab: no free loopback port between ${LOWEST} and ${top - 1} after 200 tries`);
}
