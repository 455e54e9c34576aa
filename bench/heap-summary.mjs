// Summarises a V8 heap snapshot (.heapsnapshot, as written by `node --heapsnapshot-signal=SIGUSR2`,
// `v8.writeHeapSnapshot()` or the inspector): what the heap holds, by kind of object, its strings
// by length (module source text among them), and the largest subtrees of the dominator tree (what
// would be freed if that one object went).
//
// Usage: node bench/heap-summary.mjs <file.heapsnapshot> [--top 25]
// Also imported by bench/memory.mjs.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** The snapshot's flat arrays, with the forward edges of each node and the names of its types. */
function graphOf(snapshot) {
  const meta = snapshot.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  const N = nodeFields.length;
  const E = edgeFields.length;
  const nodes = snapshot.nodes;
  const edges = snapshot.edges;
  const count = nodes.length / N;
  const type = nodeFields.indexOf('type');
  const name = nodeFields.indexOf('name');
  const selfSize = nodeFields.indexOf('self_size');
  const edgeCount = nodeFields.indexOf('edge_count');
  const edgeType = edgeFields.indexOf('type');
  const edgeName = edgeFields.indexOf('name_or_index');
  const edgeTo = edgeFields.indexOf('to_node');
  const nodeTypes = meta.node_types[type];
  const edgeTypes = meta.edge_types[edgeType];
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i] + nodes[i * N + edgeCount];
  return {
    count,
    strings: snapshot.strings,
    typeOf: (i) => nodeTypes[nodes[i * N + type]],
    nameOf: (i) => snapshot.strings[nodes[i * N + name]],
    sizeOf: (i) => nodes[i * N + selfSize],
    /** Calls `fn(target, edgeTypeName, edgeNameOrIndex)` for each edge leaving node `i`. */
    forEdges(i, fn) {
      for (let e = firstEdge[i]; e < firstEdge[i + 1]; e++) {
        const kind = edgeTypes[edges[e * E + edgeType]];
        const raw = edges[e * E + edgeName];
        fn(edges[e * E + edgeTo] / N, kind, kind === 'element' || kind === 'hidden' ? raw : snapshot.strings[raw]);
      }
    },
  };
}

/**
 * The immediate dominator of every node reachable from the root (node 0) over strong edges, by
 * the iterative algorithm of Cooper, Harvey and Kennedy; and each node's retained size (its own
 * size plus that of everything it dominates).
 */
function dominators(g) {
  const { count } = g;
  const order = new Int32Array(count).fill(-1); // post-order number
  const byOrder = new Int32Array(count);
  const predStart = new Uint32Array(count + 1);
  // Depth-first post-order from the root, iteratively (the heap graph is far too deep to recurse).
  const stack = [0];
  const cursor = new Map();
  const visited = new Uint8Array(count);
  visited[0] = 1;
  const targets = (i) => {
    const list = [];
    g.forEdges(i, (to, kind) => {
      if (kind !== 'weak' && kind !== 'shortcut') list.push(to);
    });
    return list;
  };
  let next = 0;
  while (stack.length) {
    const top = stack[stack.length - 1];
    let entry = cursor.get(top);
    if (!entry) {
      entry = { list: targets(top), at: 0 };
      cursor.set(top, entry);
    }
    if (entry.at < entry.list.length) {
      const to = entry.list[entry.at++];
      if (!visited[to]) {
        visited[to] = 1;
        stack.push(to);
      }
    } else {
      stack.pop();
      cursor.delete(top);
      order[top] = next;
      byOrder[next] = top;
      next++;
    }
  }
  const reached = next;
  // Predecessors of every reached node, over the same edges.
  for (let i = 0; i < count; i++) {
    if (order[i] < 0) continue;
    for (const to of targets(i)) predStart[to + 1]++;
  }
  for (let i = 0; i < count; i++) predStart[i + 1] += predStart[i];
  const preds = new Uint32Array(predStart[count]);
  const fill = predStart.slice(0, count);
  for (let i = 0; i < count; i++) {
    if (order[i] < 0) continue;
    for (const to of targets(i)) preds[fill[to]++] = i;
  }
  const idom = new Int32Array(count).fill(-1); // by post-order number
  const root = order[0];
  idom[root] = root;
  const intersect = (a, b) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let k = reached - 2; k >= 0; k--) {
      const node = byOrder[k];
      let dom = -1;
      for (let p = predStart[node]; p < predStart[node + 1]; p++) {
        const pred = order[preds[p]];
        if (pred < 0 || idom[pred] === -1) continue;
        dom = dom === -1 ? pred : intersect(pred, dom);
      }
      if (dom !== -1 && idom[k] !== dom) {
        idom[k] = dom;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(count);
  const dominator = new Int32Array(count).fill(-1);
  for (let k = 0; k < reached; k++) retained[byOrder[k]] += g.sizeOf(byOrder[k]);
  for (let k = 0; k < reached - 1; k++) {
    const node = byOrder[k];
    const dom = byOrder[idom[k]];
    dominator[node] = dom;
    retained[dom] += retained[node];
  }
  return { retained, dominator, reached: new Uint8Array(order.map((o) => (o >= 0 ? 1 : 0))) };
}

/** The summary tables of a parsed snapshot. */
export function summarizeHeap(snapshot, top = 25) {
  const g = graphOf(snapshot);
  const { retained, dominator, reached } = dominators(g);
  let total = 0;
  const byKind = new Map();
  const add = (map, key, size) => {
    const entry = map.get(key) ?? { size: 0, count: 0 };
    entry.size += size;
    entry.count += 1;
    map.set(key, entry);
  };
  for (let i = 0; i < g.count; i++) {
    if (!reached[i]) continue;
    const size = g.sizeOf(i);
    total += size;
    const type = g.typeOf(i);
    // Objects by constructor; everything else by its type and (for code, system) its name's kind.
    const key =
      type === 'object' || type === 'closure'
        ? `${type}: ${g.nameOf(i)}`
        : type === 'code' || type === 'hidden' || type === 'object shape' || type === 'array'
          ? `${type}: ${g
              .nameOf(i)
              .replace(/ \/ .*/, '')
              .slice(0, 60)}`
          : type;
    add(byKind, key, size);
  }

  // Strings by length: V8 keeps every loaded module's source text as one string (for lazy
  // compilation and Function.prototype.toString), so the long ones are mostly code, not data.
  const bands = [
    ['under 1 KB', 1024],
    ['1–10 KB', 10 * 1024],
    ['10–100 KB', 100 * 1024],
    ['100 KB and more', Infinity],
  ].map(([label, below]) => ({ label, below, size: 0, count: 0 }));
  const longStrings = [];
  for (let i = 0; i < g.count; i++) {
    if (!reached[i] || g.typeOf(i) !== 'string') continue;
    const size = g.sizeOf(i);
    const band = bands.find((b) => size < b.below);
    band.size += size;
    band.count += 1;
    if (size >= 100 * 1024) longStrings.push(i);
  }
  longStrings.sort((a, b) => g.sizeOf(b) - g.sizeOf(a));
  const opening = (i) => JSON.stringify(g.nameOf(i).slice(0, 70).replace(/\s+/g, ' '));

  // The largest subtrees: nodes whose retained size is big, skipping a node when its dominator
  // retains almost the same (the subtree is then named once, by its top).
  const big = [];
  for (let i = 1; i < g.count; i++) {
    if (!reached[i] || retained[i] < 512 * 1024) continue;
    const dom = dominator[i];
    if (dom > 0 && retained[dom] - retained[i] < retained[i] * 0.05) continue;
    big.push(i);
  }
  big.sort((a, b) => retained[b] - retained[a]);
  const describe = (i) => {
    const name = g.nameOf(i);
    const flat = name.replace(/\s+/g, ' ');
    return `${g.typeOf(i)}: ${flat.length > 60 ? `${flat.slice(0, 57)}…` : flat}`;
  };
  const pathOf = (i) => {
    const chain = [];
    for (let at = dominator[i], n = 0; at > 0 && n < 3; at = dominator[at], n++) chain.push(describe(at));
    return chain.join(' ⟵ ') || '(GC roots)';
  };
  const MB = (bytes) => (bytes / 2 ** 20).toFixed(2);
  return {
    totalBytes: total,
    nodes: g.count,
    tables: [
      {
        caption: `Self size by kind (${MB(total)} MB reachable in ${g.count} nodes; objects and closures by constructor).`,
        columns: ['kind', 'MB', 'share', 'count'],
        rows: [...byKind.entries()]
          .sort((a, b) => b[1].size - a[1].size)
          .slice(0, top)
          .map(([k, v]) => [k.replaceAll('|', '/'), MB(v.size), `${((100 * v.size) / total).toFixed(1)}%`, v.count]),
      },
      {
        caption:
          'Strings by length (the long ones are mostly the source text of loaded modules), and the longest, by their first characters.',
        columns: ['strings', 'MB', 'count'],
        rows: [
          ...bands.map((b) => [b.label, MB(b.size), b.count]),
          ...longStrings.slice(0, top).map((i) => [opening(i).replaceAll('|', '/'), MB(g.sizeOf(i)), 1]),
        ],
      },
      {
        caption: 'Largest subtrees of the dominator tree (what goes if that object goes), with what dominates them.',
        columns: ['object', 'retained MB', 'dominated by'],
        rows: big
          .slice(0, top)
          .map((i) => [describe(i).replaceAll('|', '/'), MB(retained[i]), pathOf(i).replaceAll('|', '/')]),
      },
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  if (!positionals[0]) {
    console.error('usage: node bench/heap-summary.mjs <file.heapsnapshot> [--top 25]');
    process.exit(2);
  }
  const { markdownTable } = await import('./lib/report.mjs');
  const summary = summarizeHeap(JSON.parse(await readFile(positionals[0], 'utf8')), Number(values.top ?? 25));
  for (const table of summary.tables) console.log(`${markdownTable(table)}\n`);
}
