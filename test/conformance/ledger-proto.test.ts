/**
 * Lifeboat's ledger proto against the real server's: every service, method,
 * message, field and enum value Lifeboat declares exists in inferadb-ledger's
 * own `ledger.proto` (21345c4) with the same name, number, type, label and
 * streaming, so both sides agree on the wire. Fields Lifeboat leaves out are
 * fine (the decoder skips them); a field it declares differently is not.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as protobuf from 'protobufjs';
import { ledgerProtoPath } from '../../src/activities/ledger/wire';
import { PROJECT_ROOT } from '../../src/tools';

/** The real proto: LIFEBOAT_LEDGER_PROTO, else ../shared/targets beside the checkout. */
function realProtoPath(): string {
  const candidates = [process.env.LIFEBOAT_LEDGER_PROTO, path.resolve(PROJECT_ROOT, '../shared/targets/inferadb-ledger/proto/ledger.proto')].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  assert.ok(
    found,
    `the real ledger.proto is not at ${candidates.join(' or ')}: set LIFEBOAT_LEDGER_PROTO to inferadb/ledger's proto/ledger/v1/ledger.proto at commit 21345c44769040b857139d2729510401df4994b0 (git clone https://github.com/inferadb/ledger && git -C ledger checkout 21345c4)`,
  );
  return found;
}

function load(file: string): protobuf.Root {
  const root = new protobuf.Root();
  root.loadSync(file, { keepCase: true });
  root.resolveAll();
  return root;
}

function walk(ns: protobuf.NamespaceBase, out: protobuf.ReflectionObject[] = []): protobuf.ReflectionObject[] {
  for (const o of ns.nestedArray) {
    out.push(o);
    if (o instanceof protobuf.Namespace) walk(o, out);
  }
  return out;
}

const typeName = (f: protobuf.Field): string => (f.resolvedType ? f.resolvedType.fullName : f.type);
/** `.ledger.v1.X` -> `ledger.v1.X`. */
const nameOf = (o: protobuf.ReflectionObject): string => o.fullName.replace(/^\./, '');

/** Every way `ours` disagrees with `theirs`, and how much was compared. */
function compare(ours: protobuf.Root, theirs: protobuf.Root): { problems: string[]; fields: number; rpcs: number } {
  const problems: string[] = [];
  let fields = 0;
  let rpcs = 0;
  for (const o of walk(ours)) {
    const other = theirs.lookup(o.fullName);
    if (o instanceof protobuf.Type) {
      if (!(other instanceof protobuf.Type)) {
        problems.push(`message ${nameOf(o)} does not exist in the server's proto`);
        continue;
      }
      for (const f of o.fieldsArray) {
        fields++;
        const g = other.fields[f.name];
        if (!g) problems.push(`${nameOf(o)}.${f.name} does not exist in the server's proto`);
        else {
          if (g.id !== f.id) problems.push(`${nameOf(o)}.${f.name} is field ${f.id} here, ${g.id} on the server`);
          if (typeName(g) !== typeName(f)) problems.push(`${nameOf(o)}.${f.name} is ${typeName(f)} here, ${typeName(g)} on the server`);
          if (g.repeated !== f.repeated || g.map !== f.map) problems.push(`${nameOf(o)}.${f.name}: repeated/map differ`);
          if ((g.partOf?.name ?? '') !== (f.partOf?.name ?? '') && !f.partOf?.name.startsWith('_')) problems.push(`${nameOf(o)}.${f.name}: oneof ${f.partOf?.name ?? 'none'} here, ${g.partOf?.name ?? 'none'} on the server`);
        }
      }
    } else if (o instanceof protobuf.Enum) {
      if (!(other instanceof protobuf.Enum)) {
        problems.push(`enum ${nameOf(o)} does not exist in the server's proto`);
        continue;
      }
      for (const [name, value] of Object.entries(o.values)) {
        if (other.values[name] !== value) problems.push(`${nameOf(o)}.${name} = ${value} here, ${String(other.values[name])} on the server`);
      }
    } else if (o instanceof protobuf.Service) {
      if (!(other instanceof protobuf.Service)) {
        problems.push(`service ${nameOf(o)} does not exist in the server's proto`);
        continue;
      }
      for (const m of o.methodsArray) {
        rpcs++;
        const n = other.methods[m.name];
        if (!n) problems.push(`rpc ${nameOf(o)}/${m.name} does not exist on the server`);
        else {
          if (n.resolvedRequestType?.fullName !== m.resolvedRequestType?.fullName) problems.push(`${nameOf(o)}/${m.name} takes ${m.resolvedRequestType?.fullName} here, ${n.resolvedRequestType?.fullName} on the server`);
          if (n.resolvedResponseType?.fullName !== m.resolvedResponseType?.fullName) problems.push(`${nameOf(o)}/${m.name} answers ${m.resolvedResponseType?.fullName} here, ${n.resolvedResponseType?.fullName} on the server`);
          if (!!n.requestStream !== !!m.requestStream || !!n.responseStream !== !!m.responseStream) problems.push(`${nameOf(o)}/${m.name}: streaming differs`);
        }
      }
    }
  }
  return { problems, fields, rpcs };
}

test("every message, field, enum value and RPC of Lifeboat's ledger proto matches inferadb-ledger 21345c4", () => {
  const { problems, fields, rpcs } = compare(load(ledgerProtoPath()), load(realProtoPath()));
  assert.deepEqual(problems, []);
  // The comparison saw what Lifeboat uses (a vacuous pass would prove nothing).
  assert.ok(rpcs >= 30, `only ${rpcs} RPCs compared`);
  assert.ok(fields >= 150, `only ${fields} fields compared`);
});

test("the comparison catches the seed's shapes: string slugs, a renumbered field, an invented RPC", () => {
  const wrong = protobuf.parse(
    `syntax = "proto3"; package ledger.v1;
     message OrganizationSlug { string id = 1; }
     message LeaveClusterRequest { uint64 node_id = 2; }
     message LeaveClusterResponse { bool removed = 1; }
     service AdminService { rpc LeaveCluster(LeaveClusterRequest) returns (LeaveClusterResponse); rpc ListVaults(LeaveClusterRequest) returns (LeaveClusterResponse); }`,
    { keepCase: true },
  ).root;
  wrong.resolveAll();
  const { problems } = compare(wrong, load(realProtoPath()));
  assert.ok(problems.includes('ledger.v1.OrganizationSlug.id does not exist in the server\'s proto'), problems.join('\n'));
  assert.ok(problems.includes('ledger.v1.LeaveClusterRequest.node_id is field 2 here, 1 on the server'), problems.join('\n'));
  assert.ok(problems.includes('ledger.v1.LeaveClusterResponse.removed does not exist in the server\'s proto'), problems.join('\n'));
  assert.ok(problems.includes('rpc ledger.v1.AdminService/ListVaults does not exist on the server'), problems.join('\n'));
});
