/**
 * The clusters file loader: valid files load with defaults, every problem is
 * reported with its field path, secrets are refused unless given by
 * reference (and never echoed), and the topology a workflow sees carries no
 * address or secret.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { InventoryError, clusterOf, loadInventory, nodeOf, parseInventory, topologyOf } from '../../src/inventory/load';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

const VALID = `
clusters:
  ledger-prod:
    system: ledger
    taskQueue: lifeboat-eu-west
    nodes:
      - name: node1
        roles: [voter]
        ssh: { host: 10.0.0.11, user: ops, privateKey: "file:/etc/lifeboat/ssh/id_ed25519", hostKeys: ["${HOST_KEY}"] }
        grpc: { address: "10.0.0.11:50051" }
        metricsUrl: "http://10.0.0.11:9090/metrics"
      - name: node2
        roles: [voter]
        ssh: { host: 10.0.0.12, user: ops, privateKey: "env:LEDGER_SSH_KEY", hostKeys: ["${HOST_KEY}"] }
  gpu-mesh:
    system: training-cluster
    nodes:
      - name: n1
        http: { baseUrl: "http://10.1.0.1:8080", authToken: "env:MESH_TOKEN" }
`;

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-inventory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function invalid(text: string): InventoryError {
  try {
    parseInventory(text, 'clusters.yaml');
  } catch (err) {
    assert.ok(err instanceof InventoryError, `expected InventoryError, got ${String(err)}`);
    return err;
  }
  assert.fail('the inventory was accepted');
}

describe('loadInventory', () => {
  it('loads a valid file and fills in defaults', () => {
    const inv = loadInventory(write('valid.yaml', VALID));
    assert.deepEqual(Object.keys(inv.clusters), ['ledger-prod', 'gpu-mesh']);
    const node1 = inv.clusters['ledger-prod']?.nodes[0];
    assert.equal(node1?.ssh?.port, 22);
    assert.equal(inv.clusters['ledger-prod']?.taskQueue, 'lifeboat-eu-west');
    assert.equal(inv.clusters['gpu-mesh']?.taskQueue, 'lifeboat');
    assert.deepEqual(inv.clusters['gpu-mesh']?.nodes[0]?.roles, []);
  });

  it('says how to get an inventory when the file is missing', () => {
    const missing = path.join(dir, 'nope.yaml');
    assert.throws(() => loadInventory(missing), (err: InventoryError) => {
      assert.ok(err instanceof InventoryError);
      assert.match(err.message, new RegExp(`no inventory at ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(err.message, /lifeboat lab up/);
      assert.match(err.fix, /LIFEBOAT_INVENTORY/);
      return true;
    });
  });

  it('names the field path of a bad host key', () => {
    const err = invalid(VALID.replace(`hostKeys: ["${HOST_KEY}"] }\n        grpc`, 'hostKeys: [] }\n        grpc'));
    assert.ok(err.problems.some((p) => p.startsWith('clusters.ledger-prod.nodes[0].ssh.hostKeys: ')), err.problems.join('\n'));
    assert.match(err.message, /clusters\.ledger-prod\.nodes\[0\]\.ssh\.hostKeys: pin at least one host key/);
    assert.match(err.message, /clusters\.yaml/);
    assert.match(err.fix, /lifeboat inventory check/);
  });

  it('names the element of a malformed host key', () => {
    const err = invalid(VALID.replace(`hostKeys: ["${HOST_KEY}"] }\n        grpc`, 'hostKeys: ["not a key"] }\n        grpc'));
    assert.ok(err.problems.some((p) => p.startsWith('clusters.ledger-prod.nodes[0].ssh.hostKeys[0]: ')), err.problems.join('\n'));
  });

  it('reports a missing required field and an unknown system', () => {
    const err = invalid('clusters:\n  a:\n    nodes: [{ name: n1 }]\n  b:\n    system: mainframe\n    nodes: [{ name: n1 }]\n');
    assert.ok(err.problems.some((p) => p.startsWith('clusters.a.system: ')), err.problems.join('\n'));
    assert.ok(err.problems.some((p) => p.startsWith('clusters.b.system: ')), err.problems.join('\n'));
    assert.equal(err.problems.length, 2, 'every problem is listed, once');
    assert.match(err.message, /2 problems/);
  });

  it('refuses a raw secret in privateKey, with the fix, without echoing it', () => {
    const secret = '-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ';
    const err = invalid(VALID.replace('privateKey: "file:/etc/lifeboat/ssh/id_ed25519"', `privateKey: "${secret}"`));
    assert.ok(err.problems.some((p) => p.startsWith('clusters.ledger-prod.nodes[0].ssh.privateKey: ')), err.problems.join('\n'));
    assert.match(err.fix, /env:VAR_NAME.*file:\/absolute\/path/);
    assert.ok(!`${err.message}${err.fix}${err.problems.join('')}`.includes('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'), 'the secret must not be echoed');
  });

  it('refuses a raw bearer token', () => {
    const err = invalid(VALID.replace('authToken: "env:MESH_TOKEN"', 'authToken: "s3cr3t-token"'));
    assert.ok(err.problems.some((p) => p.startsWith('clusters.gpu-mesh.nodes[0].http.authToken: ')), err.problems.join('\n'));
    assert.ok(!err.message.includes('s3cr3t-token'));
  });

  it('refuses duplicate node names and bad cluster names', () => {
    const dup = invalid('clusters:\n  good-name:\n    system: ledger\n    nodes: [{ name: n1 }, { name: n1 }]\n');
    assert.ok(dup.problems.some((p) => /^clusters\.good-name\.nodes\[1\]\.name: duplicate node name "n1"$/.test(p)), dup.problems.join('\n'));
    const bad = invalid('clusters:\n  Bad_Name:\n    system: ledger\n    nodes: [{ name: n1 }]\n');
    assert.ok(bad.problems.some((p) => /^clusters\.Bad_Name: bad name: cluster names are lowercase/.test(p)), bad.problems.join('\n'));
  });

  it('reports YAML syntax errors', () => {
    const err = invalid('clusters:\n  a: [unclosed\n');
    assert.match(err.message, /not valid YAML/);
  });
});

describe('lookups', () => {
  const inv = parseInventory(VALID, 'clusters.yaml');

  it('clusterOf names the known clusters', () => {
    assert.equal(clusterOf(inv, 'gpu-mesh').system, 'training-cluster');
    assert.throws(() => clusterOf(inv, 'nope'), /unknown cluster nope; known: ledger-prod, gpu-mesh/);
    assert.throws(() => clusterOf(inv, 'toString'), /unknown cluster toString/);
  });

  it('nodeOf finds a node or names the nodes', () => {
    assert.equal(nodeOf(inv, 'ledger-prod', 'node2').ssh?.privateKey, 'env:LEDGER_SSH_KEY');
    assert.throws(() => nodeOf(inv, 'ledger-prod', 'node9'), /unknown node node9 in cluster ledger-prod; nodes: node1, node2/);
  });

  it('topologyOf carries names and roles only', () => {
    const t = topologyOf(inv, 'ledger-prod');
    assert.deepEqual(t, {
      name: 'ledger-prod',
      system: 'ledger',
      nodes: [
        { name: 'node1', roles: ['voter'] },
        { name: 'node2', roles: ['voter'] },
      ],
    });
    const text = JSON.stringify([t, topologyOf(inv, 'gpu-mesh')]);
    for (const leak of ['10.0.0', '10.1.0', 'ops', 'env:', 'file:', 'ssh-ed25519', 'http', '50051']) {
      assert.ok(!text.includes(leak), `topology leaks ${leak}: ${text}`);
    }
  });
});

describe('YAML aliases past the parser bound', () => {
  /** `n` clusters sharing the first one's node list through an anchor, as a team with many alike clusters writes it. */
  const aliased = (n: number): string =>
    `clusters:\n  c0:\n    system: training-cluster\n    nodes: &nodes\n      - name: n1\n        http: { baseUrl: "http://10.1.0.1:8080" }\n` +
    Array.from({ length: n - 1 }, (_, i) => `  c${i + 1}:\n    system: training-cluster\n    nodes: *nodes\n`).join('');
  const refusal = (text: string, env: NodeJS.ProcessEnv): InventoryError => {
    try {
      parseInventory(text, 'clusters.yaml', env);
    } catch (err) {
      assert.ok(err instanceof InventoryError, `expected InventoryError, got ${String(err)}`);
      return err;
    }
    assert.fail('the inventory was accepted');
  };

  it('300 clusters on one anchor: an inventory error naming the file, the bound and both fixes', () => {
    const err = refusal(aliased(300), {});
    assert.match(err.message, /^inventory clusters\.yaml expands its YAML aliases \(\*name\) more than 100 times/);
    assert.match(err.fix, /write the repeated parts out in clusters\.yaml/);
    assert.match(err.fix, /LIFEBOAT_INVENTORY_MAX_ALIASES=<count> \(default 100\)/);
  });

  it('raised with LIFEBOAT_INVENTORY_MAX_ALIASES, the same file loads; a bad value names the variable', () => {
    const inv = parseInventory(aliased(300), 'clusters.yaml', { LIFEBOAT_INVENTORY_MAX_ALIASES: '1000' });
    assert.equal(Object.keys(inv.clusters).length, 300);
    assert.equal(inv.clusters.c299?.nodes[0]?.name, 'n1');
    assert.equal(Object.keys(parseInventory(aliased(50), 'clusters.yaml', {}).clusters).length, 50, 'under the default bound');
    assert.match(refusal(aliased(3), { LIFEBOAT_INVENTORY_MAX_ALIASES: 'lots' }).message, /LIFEBOAT_INVENTORY_MAX_ALIASES="lots" is not a positive whole number/);
  });
});
