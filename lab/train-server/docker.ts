/**
 * The train server's containers: `docker compose ps|build|up -d` and `docker
 * ps`, one workspace container per user, whose bind mounts need the array.
 *
 * @module
 */
import type { ShimResult } from '../family';
import { err, MOUNT, ok, type TrainHost } from './host';

/** `docker compose ps [--format json] | build | up -d`, `docker ps`. */
export function docker(host: TrainHost, a: string[]): ShimResult {
  const compose = a[0] === 'compose';
  const verb = compose ? a.find((x, i) => i > 0 && !x.startsWith('-')) : a[0];
  const rows = () =>
    Object.entries(host.s.containers)
      .map(([c, up]) => `${c.padEnd(20)} train-server-${c}   ${up ? 'running' : 'exited (255)'}`)
      .join('\n');
  switch (verb) {
    case 'ps':
      if (compose && a.includes('--format') && a.includes('json')) {
        return ok(Object.entries(host.s.containers).map(([c, up]) => JSON.stringify({ Name: c, Service: c, State: up ? 'running' : 'exited' })).join('\n') + '\n');
      }
      return ok(`NAME                 IMAGE                      STATUS\n${rows()}\n`);
    case 'build':
      if (!compose) return err('docker build: lab simulates docker compose build', 1);
      host.s.built = true;
      host.record('docker.build', {});
      return ok(`[+] Building ${Object.keys(host.s.containers).length} services: done\n`);
    case 'up': {
      if (!compose) return err('docker: unknown command', 1);
      if (host.storage.mountOptions() === null) return err(`Error response from daemon: invalid mount config: bind source path does not exist: ${MOUNT}/homes/alice`, 1);
      if (!host.s.built) return err('Error: no such image: train-server-workspace; run `docker compose build` first', 1);
      const started = Object.entries(host.s.containers).filter(([, up]) => !up).map(([c]) => c);
      for (const c of started) host.s.containers[c] = true;
      if (started.length) host.record('docker.up', { started });
      return ok(started.map((c) => ` Container ${c}  Started`).join('\n') + '\n');
    }
    default:
      return err(`lab: docker ${a.join(' ')} is not simulated`, 1);
  }
}
