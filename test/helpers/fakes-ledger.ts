/**
 * An in-memory ledger for workflow-logic tests: nodes with ids, data
 * directories and a service, GLOBAL membership with a leader, vaults with
 * their health, exports and imports, the way the real server (21345c4)
 * behaves as far as the v2 scenarios see it: a node that starts empty gets
 * a new id and joins a cluster that has a leader; a node restarted on its
 * old data does not catch up; quorum needs a majority of the members.
 * Shared by the unit tests and test/replay/branches.ts.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { LedgerNodeState, LedgerVaultHealth, LifeboatActivities, NodeRef } from '../../src/activities/types';
import { stubActivities } from './stubs';

export const ORG = '500000000000000001';
export const VAULT = '600000000000000001';

export interface FakeNode {
  name: string;
  /** The ledger process answers. */
  up: boolean;
  /** The host answers over SSH. */
  host: boolean;
  /** Its data directory holds a node's data. */
  data: boolean;
  nodeId: string;
  clusterId?: string;
  /** Restarted on old data: it answers but never catches up (inferadb-ledger 0.1.0). */
  stale?: boolean;
}

export interface FakeLedgerOptions {
  nodes?: string[];
  /** Nodes whose process is down (data kept). */
  down?: string[];
  /** Nodes whose host does not answer either. */
  hostDown?: string[];
  /** Nodes whose data is gone too. */
  wiped?: string[];
  /** The GLOBAL leader at the start. */
  leader?: string;
  /** Vault health: node -> status, and whether the server heals it by itself. */
  diverged?: { nodes: string[]; heals: boolean };
  /** Does the archived export exist (full restore, regional failover)? */
  archive?: boolean;
  /** State reads before a new leader is elected once the old one is gone (the real server takes minutes). */
  electionReads?: number;
}

let ids = 0;
const newId = (): string => String(700000000000000000n + BigInt(++ids));

/** One fake cluster. */
export class FakeLedger {
  readonly nodes = new Map<string, FakeNode>();
  members: string[] = [];
  leaderId?: string;
  clusterId: string;
  vaults = [{ organization: ORG, vault: VAULT, entities: 20 }];
  /** Vault health per node, and whether it heals by itself after a few probes. */
  health = new Map<string, LedgerVaultHealth['status']>();
  heals = true;
  healthProbes = 0;
  determinismBugs = 0;
  archive: boolean;
  electionReads: number;
  private reads = 0;
  readonly log: string[] = [];

  constructor(
    readonly name: string,
    opts: FakeLedgerOptions = {},
  ) {
    const names = opts.nodes ?? ['node1', 'node2', 'node3'];
    this.clusterId = newId();
    for (const n of names) {
      const node: FakeNode = { name: n, up: true, host: true, data: true, nodeId: newId(), clusterId: this.clusterId };
      this.nodes.set(n, node);
      this.members.push(node.nodeId);
    }
    this.leaderId = this.node(opts.leader ?? names[0]!).nodeId;
    for (const n of [...(opts.down ?? []), ...(opts.hostDown ?? []), ...(opts.wiped ?? [])]) this.node(n).up = false;
    for (const n of opts.hostDown ?? []) this.node(n).host = false;
    for (const n of opts.wiped ?? []) Object.assign(this.node(n), { data: false, clusterId: undefined });
    if (opts.diverged) {
      for (const n of opts.diverged.nodes) this.health.set(n, 'diverged');
      this.heals = opts.diverged.heals;
      this.determinismBugs = 1;
    }
    this.archive = opts.archive ?? true;
    this.electionReads = opts.electionReads ?? 0;
    this.elect();
  }

  node(name: string): FakeNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`fake ledger ${this.name} has no node ${name}`);
    return n;
  }

  /** Members that answer and are not stale. */
  private live(): FakeNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.stale && n.clusterId === this.clusterId && this.members.includes(n.nodeId));
  }

  get quorum(): boolean {
    return this.live().length >= Math.floor(this.members.length / 2) + 1;
  }

  /** A new leader when the old one is gone and a majority answers; the old one otherwise stays named. */
  elect(): void {
    const leader = [...this.nodes.values()].find((n) => n.nodeId === this.leaderId);
    if (leader?.up && this.members.includes(leader.nodeId)) return;
    if (this.quorum && this.reads++ >= this.electionReads) this.leaderId = this.live()[0]!.nodeId;
  }

  nameOf(id: string): string | undefined {
    return [...this.nodes.values()].find((n) => n.nodeId === id)?.name;
  }

  state(name: string): LedgerNodeState {
    const n = this.node(name);
    if (!n.up) return { node: name, reachable: false, error: 'UNAVAILABLE: connect ECONNREFUSED' };
    if (!n.clusterId) {
      return { node: name, reachable: true, nodeId: n.nodeId, state: 'uninitialized', members: [{ nodeId: n.nodeId, address: name, role: 'voter', isLeader: true, node: name }], leaderId: n.nodeId, health: 'healthy', peersOk: true };
    }
    const quorum = this.quorum && !n.stale;
    const up = this.live().length - 1;
    return {
      node: name,
      reachable: true,
      nodeId: n.nodeId,
      clusterId: n.clusterId,
      state: 'running',
      term: 1,
      members: this.members.map((id) => ({ nodeId: id, address: this.nameOf(id) ?? '?', role: 'voter', isLeader: id === this.leaderId, node: this.nameOf(id) })),
      leaderId: n.stale ? undefined : this.leaderId,
      health: quorum ? 'healthy' : 'degraded',
      healthMessage: quorum ? 'Node is healthy and has a leader' : n.stale ? 'No leader elected' : 'Dependencies unhealthy',
      peers: `${quorum && up === this.members.length - 1 ? 'ok' : 'FAIL'}: ${up}/${this.members.length - 1} peers reachable`,
      peersOk: quorum && up === this.members.length - 1,
    };
  }

  vaultHealth(node: string): LedgerVaultHealth['status'] {
    return this.health.get(node) ?? 'healthy';
  }

  /** The fake's activities (ledger only); everything else keeps its stub default. */
  overrides(): Partial<LifeboatActivities> {
    const plan = (name: string, a: NodeRef & { dryRun?: boolean }): { plan: string; dryRun?: true } => ({ plan: `${name} ${a.node}`, ...(a.dryRun ? { dryRun: true as const } : {}) });
    const requireLeader = (): FakeNode => {
      this.elect();
      const leader = [...this.nodes.values()].find((n) => n.nodeId === this.leaderId && n.up);
      if (!leader || !this.quorum) throw ApplicationFailure.retryable(`cluster ${this.name} has no reachable GLOBAL leader`, 'NoLeader');
      return leader;
    };
    return {
      ledgerNodeState: async (a) => (this.elect(), this.state(a.node)),
      ledgerDataDir: async (a) => {
        const n = this.node(a.node);
        if (!n.host) return { node: a.node, sshReachable: false, error: 'connect ETIMEDOUT', dataDir: 'data', present: false, serviceActive: false };
        return { node: a.node, sshReachable: true, dataDir: 'data', present: n.data, nodeId: n.data ? n.nodeId : undefined, clusterId: n.data ? n.clusterId : undefined, serviceActive: n.up, version: '0.1.0' };
      },
      ledgerVaults: async (a) => {
        const n = this.node(a.node);
        if (!n.up) return { node: a.node, reachable: false, error: 'UNAVAILABLE', organizations: [], vaults: [] };
        const held = n.clusterId ? this.vaults : [];
        return {
          node: a.node,
          reachable: true,
          organizations: held.length ? [{ slug: ORG, name: 'acme', region: 'us-east-va', status: 'ACTIVE' }] : [],
          vaults: held.map((v) => ({ organization: v.organization, vault: v.vault, status: 'ACTIVE', lastAppliedIndex: n.name === 'node3' ? 40 : 42, leaderNodeId: this.leaderId })),
        };
      },
      ledgerVaultHealth: async (a) => {
        const n = this.node(a.node);
        this.healthProbes += 1;
        // The server's own replay heals a diverged vault after a while, when it can.
        if (this.heals && this.healthProbes > 8) this.health.clear();
        if (!n.up) return { node: a.node, organization: a.organization, vault: a.vault, reachable: false, status: 'unknown' };
        return { node: a.node, organization: a.organization, vault: a.vault, reachable: true, status: this.vaultHealth(a.node) };
      },
      ledgerIntegrity: async (a) => ({ node: a.node, organization: a.organization, vault: a.vault, healthy: true, issues: [] }),
      ledgerReplicaTip: async (a) => ({ node: a.node, organization: a.organization, vault: a.vault, reachable: true, height: 21 }),
      ledgerMetrics: async (a) => ({ node: a.node, reachable: this.node(a.node).up, flowing: this.node(a.node).up, determinismBugs: this.determinismBugs, divergedVaults: this.health.size ? 1 : 0 }),
      ledgerBackupStatus: async (a) => ({ node: a.node, available: false, reason: 'Backup destination directory is not configured on this node', backups: [] }),
      ledgerArchiveInfo: async (a) => ({ source: a.source ?? 's3://ledger-backups/latest/ledger-export.jsonl', exists: this.archive, ...(this.archive ? { sizeBytes: 4096, takenAt: '2026-11-22T02:00:00Z' } : {}) }),
      ledgerServiceStop: async (a) => {
        if (!a.dryRun) {
          const n = this.node(a.node);
          if (!n.host) throw ApplicationFailure.retryable(`${a.node} does not answer over SSH`, 'Unavailable');
          const was = n.up;
          n.up = false;
          if (was) this.log.push(`stop ${a.node}`);
          return { ...plan('ledgerServiceStop', a), alreadyDone: !was };
        }
        return plan('ledgerServiceStop', a);
      },
      ledgerSetAside: async (a) => {
        const n = this.node(a.node);
        if (a.dryRun) return { ...plan('ledgerSetAside', a), movedTo: 'data.lifeboat-x' };
        if (n.up) throw ApplicationFailure.nonRetryable(`the ledger still runs on ${a.node}`, 'FailedPrecondition');
        const had = n.data;
        Object.assign(n, { data: false, clusterId: undefined, stale: false });
        this.health.delete(a.node);
        this.log.push(`aside ${a.node}`);
        return { ...plan('ledgerSetAside', a), movedTo: 'data.lifeboat-x', alreadyDone: !had };
      },
      ledgerServiceStart: async (a) => {
        const n = this.node(a.node);
        if (a.dryRun) return plan('ledgerServiceStart', a);
        if (!n.host) throw ApplicationFailure.retryable(`${a.node} does not answer over SSH`, 'Unavailable');
        if (n.up) return { ...plan('ledgerServiceStart', a), alreadyDone: true, nodeId: n.nodeId, clusterId: n.clusterId };
        n.up = true;
        this.log.push(`start ${a.node}`);
        if (!n.data) {
          // Empty: a new id; it joins through its seeds when the cluster has a leader.
          n.nodeId = newId();
          n.data = true;
          const leader = [...this.nodes.values()].find((x) => x.nodeId === this.leaderId && x.up && x.clusterId === this.clusterId);
          if (leader && this.quorum) {
            n.clusterId = this.clusterId;
            this.members.push(n.nodeId);
          }
        } else if (n.clusterId) {
          n.stale = true;
        }
        return { ...plan('ledgerServiceStart', a), nodeId: n.nodeId, clusterId: n.clusterId };
      },
      ledgerInit: async (a) => {
        const n = this.node(a.node);
        if (a.dryRun) return plan('ledgerInit', a);
        if (n.clusterId) return { ...plan('ledgerInit', a), alreadyDone: true, clusterId: n.clusterId };
        this.clusterId = newId();
        n.clusterId = this.clusterId;
        this.members = [n.nodeId];
        this.leaderId = n.nodeId;
        this.vaults = [];
        this.log.push(`init ${a.node}`);
        // Nodes started empty while no cluster existed join now (their seeds poll).
        for (const o of this.nodes.values()) {
          if (o !== n && o.up && o.data && !o.clusterId) {
            o.clusterId = this.clusterId;
            this.members.push(o.nodeId);
          }
        }
        return { ...plan('ledgerInit', a), clusterId: this.clusterId };
      },
      ledgerRemoveMember: async (a) => {
        if (a.dryRun) return { plan: `LeaveCluster ${a.nodeId}`, dryRun: true };
        const leader = requireLeader();
        if (!this.members.includes(a.nodeId)) return { plan: `LeaveCluster ${a.nodeId}`, alreadyDone: true, via: leader.name };
        this.members = this.members.filter((m) => m !== a.nodeId);
        this.log.push(`leave ${a.nodeId}`);
        return { plan: `LeaveCluster ${a.nodeId}`, via: leader.name };
      },
      ledgerVaultRecover: async (a) => ({ ...plan('ledgerVaultRecover', a), success: false, health: 'healthy', output: 'Vault is already healthy. Use force=true to recover anyway.' }),
      ledgerWriteCheck: async (a) => {
        if (a.dryRun) return { plan: 'write check', dryRun: true, organization: a.organization, vault: a.vault, leader: '', height: 0, key: 'k', readBack: [], missing: [] };
        const leader = requireLeader();
        const expected = [...this.nodes.values()].filter((n) => !a.nodes?.length || a.nodes.includes(n.name));
        const up = expected.filter((n) => n.up && n.clusterId === this.clusterId && !n.stale).map((n) => n.name);
        const missing = expected.filter((n) => !up.includes(n.name)).map((n) => n.name);
        return { plan: 'write check', organization: a.organization, vault: a.vault, leader: leader.name, height: 22, key: 'lifeboat/check/x', readBack: up, missing, output: `read back on ${up.join(', ')}` };
      },
      ledgerExport: async (a) => {
        const file = { node: a.to.node, path: a.to.path ?? 'exports/export-e1.jsonl' };
        const n = this.node(a.node);
        const entities = n.up ? this.vaults.reduce((x, v) => x + v.entities, 0) : 0;
        return {
          plan: `export ${a.node}`,
          ...(a.dryRun ? { dryRun: true as const } : {}),
          file,
          exportId: 'e1',
          organizations: 1,
          vaults: this.vaults.length,
          entities,
          relationships: 5,
          bytes: 4096,
          sha256: 'ab'.repeat(32),
          heights: Object.fromEntries(this.vaults.map((v) => [`${v.organization}/${v.vault}`, 21])),
          output: `1 organization(s), ${this.vaults.length} vault(s), ${entities} entities`,
        };
      },
      ledgerImport: async (a) => {
        if (a.dryRun) return { plan: `import into ${a.node}`, dryRun: true, organizations: 0, vaults: 0, entities: 0, relationships: 0 };
        requireLeader();
        this.vaults = [{ organization: ORG, vault: VAULT, entities: 20 }];
        this.log.push(`import ${a.node}`);
        return { plan: `import into ${a.node}`, organizations: 1, vaults: 1, entities: 20, relationships: 5, output: 're-created 1 organization(s), 1 vault(s), 20 entities' };
      },
      ledgerArchiveFetch: async (a) => {
        if (!this.archive && !a.dryRun) throw ApplicationFailure.nonRetryable(`${a.source} does not exist`, 'ArchiveMissing');
        if (!a.dryRun) this.log.push(`fetch ${a.node}`);
        return { ...plan('ledgerArchiveFetch', a), path: 'exports/restore-x.jsonl' };
      },
      ledgerArchivePush: async (a) => plan('ledgerArchivePush', a),
    };
  }
}

/** Fake clusters by name (a primary and its DR region), routed by each call's `cluster`. */
export function fakeLedgers(...clusters: FakeLedger[]): { activities: LifeboatActivities; calls: ReturnType<typeof stubActivities>['calls']; effects: ReturnType<typeof stubActivities>['effects']; ledgers: Map<string, FakeLedger> } {
  const ledgers = new Map(clusters.map((c) => [c.name, c]));
  const per = new Map(clusters.map((c) => [c.name, c.overrides() as Record<string, (a: { cluster: string }) => Promise<unknown>>]));
  const names = Object.keys(clusters[0]!.overrides());
  const routed: Record<string, (a: { cluster: string }) => Promise<unknown>> = {};
  for (const name of names) {
    routed[name] = (a) => {
      const fn = per.get(a.cluster)?.[name];
      if (!fn) throw new Error(`no fake ledger ${a.cluster}`);
      return fn(a);
    };
  }
  const stubs = stubActivities(routed as Partial<LifeboatActivities>);
  return { ...stubs, ledgers };
}
