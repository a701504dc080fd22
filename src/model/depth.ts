/**
 * Conv depth: the index of a conv's graph-depth level among the distinct levels that hold a conv
 * (fixtures README). Without a graph, the storage order is the depth.
 */

/** Maps graph depths to conv depth indices and normalised depths. */
export function convDepthsFromGraph(graphDepths: readonly number[]): {
  convDepth: number[];
  convDepthNorm: number[];
} {
  const levels = [...new Set(graphDepths)].sort((a, b) => a - b);
  const index = new Map<number, number>();
  for (const [i, d] of levels.entries()) index.set(d, i);
  const denom = levels.length - 1;
  const convDepth = graphDepths.map((d) => index.get(d)!);
  return { convDepth, convDepthNorm: convDepth.map((c) => (denom > 0 ? c / denom : 0)) };
}

/** Storage order as depth: layer i of n has depth i and norm i/(n-1). */
export function convDepthsFromOrder(count: number): { convDepth: number[]; convDepthNorm: number[] } {
  const convDepth = Array.from({ length: count }, (_, i) => i);
  return { convDepth, convDepthNorm: convDepth.map((c) => (count > 1 ? c / (count - 1) : 0)) };
}

/**
 * Longest-path depth of every node in a DAG given as adjacency (node -> successors), starting from
 * `starts` at depth 0. Nodes not reachable stay undefined. Relaxation in topological order (Kahn on the
 * reachable subgraph), so it is linear and cannot loop on a malformed cyclic graph: nodes on a cycle are
 * left at the depth reached before the cycle.
 */
export function longestPathDepths(
  nodeCount: number,
  successors: readonly (readonly number[])[],
  starts: readonly number[],
): Int32Array {
  const depth = new Int32Array(nodeCount).fill(-1);
  const reachable = new Uint8Array(nodeCount);
  const stack: number[] = [];
  for (const s of starts) {
    if (!reachable[s]) {
      reachable[s] = 1;
      stack.push(s);
    }
  }
  while (stack.length) {
    const u = stack.pop()!;
    for (const v of successors[u]) {
      if (!reachable[v]) {
        reachable[v] = 1;
        stack.push(v);
      }
    }
  }
  const indegree = new Int32Array(nodeCount);
  for (let u = 0; u < nodeCount; u++) {
    if (!reachable[u]) continue;
    for (const v of successors[u]) indegree[v]++;
  }
  const queue: number[] = [];
  for (let u = 0; u < nodeCount; u++) {
    if (reachable[u] && indegree[u] === 0) {
      queue.push(u);
      depth[u] = 0;
    }
  }
  for (const s of starts) if (depth[s] < 0) depth[s] = 0;
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi];
    for (const v of successors[u]) {
      if (depth[u] + 1 > depth[v]) depth[v] = depth[u] + 1;
      if (--indegree[v] === 0) queue.push(v);
    }
  }
  return depth;
}
