// The network of `pnpm bench tcp-tap` (baseline and subject alike): a namespace bptcp<pid> joined
// to the root namespace by a veth pair bptr<pid> (root side) / bptn<pid> (namespace side), built
// with @bypass/pmd/netns, which removes it all at the end, on SIGINT/SIGTERM and at exit; what a
// run killed outright (SIGKILL) left is removed at the next start.
//
// Addresses: 10.x private space only, and only on interfaces created here. The veth's ends get a
// /30 in 10.99.128.0/17 that overlaps no route of the root namespace (netns.ts freeSubnet: so we
// shadow nothing). Interfaces moved into the namespace (a tap port's, for the subject) get
// whatever 10.x address the caller gives them; inside the namespace nothing else exists.
import { Netns, removeStale, type Veth } from '@bypass/pmd/netns';

const NS_PREFIX = 'bptcp';
const ROOT_VETH_PREFIX = 'bptr';

/** What the baseline runs over: a namespace joined to the root namespace by a veth pair. */
export interface VethTopology {
  ns: Netns;
  veth: Veth;
  /** Removes the namespace and the veth pair (idempotent). */
  remove(): void;
}

/** Creates namespace + veth pair (see Netns.addVeth); on any failure removes what it made. */
export function createVethTopology(): VethTopology {
  removeStale(NS_PREFIX, [ROOT_VETH_PREFIX]);
  const ns = new Netns(`${NS_PREFIX}${process.pid}`);
  try {
    const veth = ns.addVeth(
      `${ROOT_VETH_PREFIX}${process.pid}`.slice(0, 15),
      `bptn${process.pid}`.slice(0, 15),
    );
    return { ns, veth, remove: () => ns.remove() };
  } catch (e) {
    ns.remove();
    throw e;
  }
}
