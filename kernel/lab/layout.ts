/**
 * Inside the coherence-lab region of ctl (kernel/layout.ts places it at `lab`; this file says
 * what is in it, like kernel/proc/layout.ts for the scheduler regions). Word indices are Int32
 * offsets from the start of their record; fields marked f64 are Float64 slots (8-aligned pairs).
 *
 *   labHeader   LAB_HEADER_BYTES                 seq, change/report counters, sanitizer mode, fault injection
 *   changes     CHANGE_SLOTS x CHANGE_BYTES       ring of completed page-table changes
 *   reports     REPORT_SLOTS x REPORT_BYTES       ring of sanitizer reports (the first ones kept too)
 *   labHarts    C x LAB_HART_BYTES                per-hart: quiescence epoch, lab statistics
 *
 * Who writes what, and what guards it:
 * - LH_SEQ: Atomics.add by any hart when a change is handed to the shootdown policy (after
 *   its PTE edits: kernel/lab/sanitizer.ts explains why the order matters).
 * - LH_CHANGES: Atomics.add by the hart completing a change (claims the ring position);
 *   the record is filled, then its CH_TAG is Atomics.store'd = position + 1 (the store that
 *   publishes it). Readers skip a record whose tag is not yet theirs.
 * - LH_REPORTS likewise for the report ring (RP_TAG); LH_FATAL compareExchange'd once.
 * - LH_MODE, LH_POLICY: written by the host before any thread runs (read-only afterwards).
 * - LH_INJECT: written by the host at boot (or by a test between runs); read by every hart
 *   with a plain load at each injection point. LH_INJECT_HITS: Atomics.add by the delaying hart.
 * - LH_STDERR: Atomics.add (rate limit of the stderr lines).
 * - LH_BROADCAST, LH_GASID_MIN, LH_TLBSYNC_SKIP, LH_IPI_OPTS, LH_IPI_UNSAFE: written by the host at
 *   boot (read-only afterwards; SH_STARTED publishes them with the scheduler words).
 * - labHarts: LHB_EPOCH Atomics.add by its own hart only (read by every hart: deferred
 *   policy); statistics slots written by the owner only (plain stores; racy reads are fine).
 */

export const LAB_HEADER_BYTES = 512;
export const LH_SEQ = 0; // change sequence number (Atomics.add)
export const LH_CHANGES = 16; // own cache line: completed changes ever (ring position)
export const LH_REPORTS = 32; // own cache line: sanitizer reports ever
export const LH_MODE = 48; // SAN_OFF / SAN_REPORT / SAN_FATAL
export const LH_POLICY = 49; // POLICY_* code the harts installed
export const LH_FATAL = 50; // first fatal report position + 1, 0 none
export const LH_STDERR = 51; // stderr lines printed
export const LH_BROADCAST = 52; // 1: the machine has broadcast TLB invalidation (--tlb-broadcast, cpu/tlb-broadcast.ts); host, at boot
export const LH_GASID_MIN = 53; // harts running a space before it gets a global ASID (0: DEFAULT_GASID_MIN_HARTS); host, at boot
export const LH_TLBSYNC_SKIP = 54; // lab knob, negative control only: 1 = the broadcast policy skips tlbsync (UNSAFE); host
export const LH_IPI_OPTS = 55; // IPI_OPT_* bits: options of the ipi policy (--shootdown ipi:concurrent,...); host, at boot
export const LH_IPI_UNSAFE = 56; // lab knob, negative controls only: IPI_OPT_* bits whose safety condition is broken (UNSAFE); host
export const LH_INJECT = 64; // INJECT_SLOTS words: delay in µs per fault-injection point (kernel/lab/inject.ts), 0 = off
export const LH_INJECT_HITS = 96; // INJECT_SLOTS words: times each point delayed (Atomics.add)
export const INJECT_SLOTS = 32;
export const SAN_OFF = 0;
export const SAN_REPORT = 1;
export const SAN_FATAL = 2;

// ---- completed-change ring ----
export const CHANGE_SLOTS = 4096; // power of two
export const CHANGE_BYTES = 64;
export const CH_TAG = 0; // position + 1 once published
export const CH_AS = 1; // address-space slot
export const CH_SEQ = 2; // LH_SEQ value of the change
export const CH_KIND = 3; // CHANGE_*
export const CH_NPAGES = 4; // pages, -1 = the whole space
export const CH_HART = 5; // hart that completed it
export const CH_VPN = 6; // f64: first vpn
export const CH_TIME = 8; // f64: completion time (ns, process.hrtime: one clock for every worker)
/** What a change did (as far as the Stale record tells: frames released or not). */
export const CHANGE_UNMAP = 1; // released frames (removed or re-pointed translations)
export const CHANGE_PROTECT = 2; // released nothing (permissions changed)

// ---- report ring ----
export const REPORT_SLOTS = 256; // power of two
export const REPORT_BYTES = 64;
export const RP_TAG = 0;
export const RP_HART = 1;
export const RP_PID = 2;
export const RP_TID = 3;
export const RP_ACCESS = 4; // cpu/trap.ts ACCESS_*
export const RP_WHAT = 5; // STALE_*
export const RP_VA = 6; // f64
export const RP_STALE_PPN = 8; // f64
export const RP_CURRENT_PPN = 10; // f64, -1 = nothing mapped now
export const RP_SINCE_NS = 12; // f64: ns since the change completed (-1: unknown, ring wrapped)
/** How a reported translation was stale. */
export const STALE_REMOVED = 1; // nothing is mapped at va now
export const STALE_REPOINTED = 2; // va maps another frame now
export const STALE_PROTECTED = 3; // same frame, but the access is no longer permitted
export const STALE_REUSED = 4; // same frame, but it was freed (and allocated again) since the entry was filled
export const STALE_CLEAN = 5; // a store through an entry cached writable+dirty whose PTE is clean now: D is skipped (after a removal)
export const STALE_DIRTY_AFTER_CLEAN = 6; // the same after a clean of its frame (msync) that began after its walk and completed

// ---- per-hart block ----
export const LAB_HART_BYTES = 512;
export const LHB_EPOCH = 0; // quiescence epoch (Atomics.add by the owner at every poll point)
export const LHB_STATS = 16; // f64 slots from this word
export const LS_REPORTS = 0; // sanitizer reports made on this hart
export const LS_SLOW_CHECKS = 1; // TLB hits that needed the ring scan
export const LS_PARKED_NOW = 2; // deferred: frames parked by this hart, not yet released
export const LS_PARKED_TOTAL = 3; // deferred: frames ever parked
export const LS_DEFERRED = 4; // deferred: changes parked (no synchronous wait)
export const LS_DEFERRED_SYNC = 5; // deferred: changes that went synchronously (not pure removals)
export const LS_POLL_FLUSH_RANGE = 6; // deferred: range flushes applied at a poll point
export const LS_POLL_FLUSH_FULL = 7; // deferred: ASID flushes applied at a poll point
export const LS_PERPAGE_MSGS = 8; // per-page: page messages sent
export const LS_FAULT_DEMAND = 9; // kernel/context.ts VmCounters, published at poll points
export const LS_FAULT_FILE = 10;
export const LS_FAULT_COW_COPY = 11;
export const LS_FAULT_COW_REUSE = 12;
export const LS_FAULT_SPURIOUS = 13;
export const LS_FAULT_HUGE = 14;
export const LS_LOCAL_FLUSH_PAGES = 15;
export const LS_LOCAL_FLUSH_ASID = 16;
export const LS_CHANGES = 17; // shootdowns (non-empty Stale records) completed by this hart's kernel
export const LS_SLOTS = 24;

/** Bytes of the lab region for `cpus` harts. */
export function labRegionBytes(cpus: number): number {
  return LAB_HEADER_BYTES + CHANGE_SLOTS * CHANGE_BYTES + REPORT_SLOTS * REPORT_BYTES + cpus * LAB_HART_BYTES;
}
/** Byte offsets inside the region. */
export const LAB_CHANGES_AT = LAB_HEADER_BYTES;
export const LAB_REPORTS_AT = LAB_CHANGES_AT + CHANGE_SLOTS * CHANGE_BYTES;
export const LAB_HARTS_AT = LAB_REPORTS_AT + REPORT_SLOTS * REPORT_BYTES;

/** Policy codes (written to sched-layout SH_POLICY; 0 and 1 are its POLICY_IPI / POLICY_LOCAL). */
export const POLICY_CODES = { ipi: 0, local: 1, 'per-page': 2, lazy: 3, deferred: 4, off: 5, broadcast: 6 } as const;
export type PolicyName = keyof typeof POLICY_CODES;
export const POLICY_NAMES = Object.keys(POLICY_CODES) as PolicyName[];

/**
 * Options of the `ipi` policy (Amit et al., ATC'17 and EuroSys'20; docs/policies.md "ipi
 * options"), one bit each in LH_IPI_OPTS: `--shootdown ipi:concurrent,early-ack` or `ipi:all`.
 */
export const IPI_OPTIONS = { concurrent: 1, 'early-ack': 2, consolidate: 4, 'in-context': 8 } as const;
export type IpiOption = keyof typeof IPI_OPTIONS;
export const IPI_OPTION_NAMES = Object.keys(IPI_OPTIONS) as IpiOption[];
export const IPI_OPT_CONCURRENT = IPI_OPTIONS.concurrent;
export const IPI_OPT_EARLY_ACK = IPI_OPTIONS['early-ack'];
export const IPI_OPT_CONSOLIDATE = IPI_OPTIONS.consolidate;
export const IPI_OPT_IN_CONTEXT = IPI_OPTIONS['in-context'];
export const IPI_OPT_ALL = IPI_OPT_CONCURRENT | IPI_OPT_EARLY_ACK | IPI_OPT_CONSOLIDATE | IPI_OPT_IN_CONTEXT;
/** A policy as users write it: a name, or `ipi:` and a comma list of IPI_OPTIONS names (or `all`). */
export type PolicySpec = PolicyName | `ipi:${string}`;

/**
 * Parse a policy spec: 'deferred' → { policy: 'deferred', ipiOptions: 0 }; 'ipi:early-ack,concurrent'
 * → { policy: 'ipi', ipiOptions: IPI_OPT_EARLY_ACK | IPI_OPT_CONCURRENT }; 'ipi:all' → every option.
 * Throws a RangeError naming parsePolicySpec for an unknown policy or option, options on a policy
 * other than ipi, an empty or repeated option.
 */
export function parsePolicySpec(text: string): { policy: PolicyName; ipiOptions: number } {
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  if (!(name in POLICY_CODES)) throw new RangeError(`parsePolicySpec: unknown policy '${name}' (${POLICY_NAMES.join(', ')})`);
  if (colon < 0) return { policy: name as PolicyName, ipiOptions: 0 };
  if (name !== 'ipi') throw new RangeError(`parsePolicySpec: only ipi takes options ('${text}')`);
  let opts = 0;
  for (const o of text.slice(colon + 1).split(',')) {
    const bit = o === 'all' ? IPI_OPT_ALL : IPI_OPTIONS[o as IpiOption];
    if (bit === undefined) throw new RangeError(`parsePolicySpec: unknown ipi option '${o}' (${IPI_OPTION_NAMES.join(', ')}, all)`);
    if (opts & bit) throw new RangeError(`parsePolicySpec: ipi option '${o}' given twice`);
    opts |= bit;
  }
  return { policy: 'ipi', ipiOptions: opts };
}

/** The canonical spec of `policy` with ipi options `opts` ('ipi', 'ipi:concurrent,early-ack', 'ipi:all'). */
export function formatPolicySpec(policy: PolicyName, opts: number): string {
  if (opts === 0) return policy;
  if (opts === IPI_OPT_ALL) return `${policy}:all`;
  return `${policy}:${IPI_OPTION_NAMES.filter((n) => opts & IPI_OPTIONS[n]).join(',')}`;
}

/** Name of policy code `c`. */
export function policyName(c: number): PolicyName {
  const n = POLICY_NAMES.find((k) => POLICY_CODES[k] === c);
  if (n === undefined) throw new Error(`policyName: unknown policy code ${c}`);
  return n;
}
