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
 * Longest-path depth of every node in a graph given as adjacency (node -> successors), starting from
 * `starts` at depth 0. Nodes not reachable stay -1. Loops (a TF while loop's NextIteration -> Merge, or any
 * other cycle) have no longest path, so their back edges are dropped first: an edge is a back edge when a
 * depth-first search from the starts meets it while its target is still on the search path. What remains
 * is a DAG, relaxed in topological order (Kahn), so the pass is linear and every reachable node gets a depth.
 */
export function longestPathDepths(
  nodeCount: number,
  successors: readonly (readonly number[])[],
  starts: readonly number[],
): Int32Array {
  const forward = withoutBackEdges(nodeCount, successors, starts);
  const depth = new Int32Array(nodeCount).fill(-1);
  const indegree = new Int32Array(nodeCount);
  for (let u = 0; u < nodeCount; u++) for (const v of forward[u]) indegree[v]++;
  const queue: number[] = [];
  for (const s of starts) {
    if (depth[s] < 0 && indegree[s] === 0) {
      depth[s] = 0;
      queue.push(s);
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi];
    for (const v of forward[u]) {
      if (depth[u] + 1 > depth[v]) depth[v] = depth[u] + 1;
      if (--indegree[v] === 0) queue.push(v);
    }
  }
  for (const s of starts) if (depth[s] < 0) depth[s] = 0;
  return depth;
}

/**
 * The successors of the nodes reachable from `starts`, less the back edges of an iterative depth-first
 * search (no recursion: graphs of 100 000 nodes would overflow the stack). Unreachable nodes get none.
 */
function withoutBackEdges(
  nodeCount: number,
  successors: readonly (readonly number[])[],
  starts: readonly number[],
): number[][] {
  const forward: number[][] = Array.from({ length: nodeCount }, () => []);
  // 0 = not seen, 1 = on the search path, 2 = finished
  const state = new Uint8Array(nodeCount);
  const next = new Int32Array(nodeCount);
  const path: number[] = [];
  for (const s of starts) {
    if (state[s]) continue;
    state[s] = 1;
    path.push(s);
    while (path.length) {
      const u = path[path.length - 1];
      const succ = successors[u];
      if (next[u] === succ.length) {
        state[u] = 2;
        path.pop();
        continue;
      }
      const v = succ[next[u]++];
      if (state[v] === 1) continue; // back edge: closes a loop
      forward[u].push(v);
      if (state[v] === 0) {
        state[v] = 1;
        path.push(v);
      }
    }
  }
  return forward;
}
