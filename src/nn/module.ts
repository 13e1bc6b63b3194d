// Module: the base of every layer and model, after torch.nn.Module. A module owns named
// parameters, buffers and child modules; each name is also a live property of the instance
// (`conv.weight`, `block.conv1`) that always reads the current registry entry, so a child
// replaced through setSubmodule() is the one forward() calls.
import { Tensor, noGrad, isFloating } from '../engine';

export interface LoadStateDictOptions { strict?: boolean }
export interface ShapeMismatch { key: string; expected: number[]; got: number[] }
export interface LoadStateDictResult { missing: string[]; unexpected: string[]; mismatched: ShapeMismatch[] }

type Slot = 'parameter' | 'buffer' | 'module';

const LIST_LIMIT = 5;
function listed(items: string[]): string {
  const head = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${head}, ... +${items.length - LIST_LIMIT} more` : head;
}
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export abstract class Module {
  /** Set by train()/eval() on the whole tree; layers such as BatchNorm2d and Dropout read it. */
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  // ---- registration -------------------------------------------------------------------
  /**
   * Registers (or replaces) a parameter: a floating leaf tensor that is kept alive with the
   * module and requires grad. null declares an absent parameter (e.g. no bias). A replaced
   * tensor is disposed.
   */
  registerParameter(name: string, t: Tensor | null, requiresGrad = true): Tensor | null {
    if (t !== null) {
      if (!(t instanceof Tensor)) throw new Error(`registerParameter: '${name}' must be a Tensor or null`);
      if (!isFloating(t.dtype)) throw new Error(`registerParameter: '${name}' must be a floating tensor, got ${t.dtype}`);
      if (!t.isLeaf) throw new Error(`registerParameter: '${name}' must be a leaf tensor (detach() it first)`);
    }
    this.claim(name, 'parameter', 'registerParameter');
    t?.keep().requiresGrad_(requiresGrad);
    const old = this._parameters.get(name);
    if (old && old !== t) old.dispose();
    this._parameters.set(name, t);
    return t;
  }

  /** Registers (or replaces) a buffer; non-persistent buffers are left out of stateDict(). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    if (t !== null && !(t instanceof Tensor)) throw new Error(`registerBuffer: '${name}' must be a Tensor or null`);
    this.claim(name, 'buffer', 'registerBuffer');
    t?.keep();
    const old = this._buffers.get(name);
    if (old && old !== t) old.dispose();
    this._buffers.set(name, t);
    if (persistent) this._nonPersistent.delete(name);
    else this._nonPersistent.add(name);
    return t;
  }

  /** Registers a child; registering an existing name replaces that child (not disposed). */
  registerModule<M extends Module>(name: string, m: M): M {
    this.checkChild(m, name, 'registerModule');
    this.claim(name, 'module', 'registerModule');
    this._modules.set(name, m);
    return m;
  }

  // A name belongs to one slot; it becomes an accessor on the instance the first time.
  private claim(name: string, slot: Slot, op: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new Error(`${op}: invalid name '${String(name)}' (a non-empty string without '.')`);
    }
    const current = this.slotOf(name);
    if (current === slot) return;
    if (current) throw new Error(`${op}: '${name}' is already a ${current} of ${this.constructor.name}`);
    if (name in this) throw new Error(`${op}: '${name}' is already an attribute of ${this.constructor.name}`);
    const get =
      slot === 'parameter' ? () => this._parameters.get(name)
      : slot === 'buffer' ? () => this._buffers.get(name)
      : () => this._modules.get(name);
    const set =
      slot === 'parameter' ? (v: Tensor | null) => { this.registerParameter(name, v); }
      : slot === 'buffer' ? (v: Tensor | null) => { this.registerBuffer(name, v, !this._nonPersistent.has(name)); }
      : (v: Module) => { this.registerModule(name, v); };
    Object.defineProperty(this, name, { get, set, enumerable: true, configurable: true });
  }

  private slotOf(name: string): Slot | null {
    if (this._parameters.has(name)) return 'parameter';
    if (this._buffers.has(name)) return 'buffer';
    if (this._modules.has(name)) return 'module';
    return null;
  }

  private checkChild(m: Module, name: string, op: string): void {
    if (!(m instanceof Module)) throw new Error(`${op}: '${name}' must be a Module`);
    if (m.namedModules().some(([, x]) => x === this)) {
      throw new Error(`${op}: '${name}' would make ${this.constructor.name} its own descendant`);
    }
  }

  // ---- traversal ----------------------------------------------------------------------
  /** Every module of the tree, this one first (name ''), depth-first, each module once. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m._modules) visit(c, p ? `${p}.${n}` : n);
    };
    visit(this, '');
    return out;
  }
  modules(): Module[] { return this.namedModules().map(([, m]) => m); }
  namedChildren(): [string, Module][] { return [...this._modules]; }
  children(): Module[] { return [...this._modules.values()]; }

  /** Dotted names as PyTorch's named_parameters(): registration order, depth-first, each tensor once. */
  namedParameters(): [string, Tensor][] { return this.namedTensors((m) => m._parameters); }
  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }
  namedBuffers(): [string, Tensor][] { return this.namedTensors((m) => m._buffers); }
  buffers(): Tensor[] { return this.namedBuffers().map(([, t]) => t); }

  private namedTensors(pick: (m: Module) => Map<string, Tensor | null>): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, t] of pick(m)) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        out.push([p ? `${p}.${n}` : n, t]);
      }
    }
    return out;
  }

  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.numel, 0);
  }

  /** The module at a dotted path ('' is this module). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let m: Module = this;
    for (const part of path.split('.')) {
      const c = m._modules.get(part);
      if (!c) throw new Error(`getSubmodule: ${m.constructor.name} has no submodule '${part}' (path '${path}')`);
      m = c;
    }
    return m;
  }

  /**
   * Replaces the existing child at a dotted path by m, keeping its name and position, and
   * returns the old child (not disposed: the new module may reuse its tensors). The training
   * flag of m is left as it is, as in PyTorch.
   */
  setSubmodule(path: string, m: Module): Module {
    const dot = path.lastIndexOf('.');
    const parent = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const old = parent._modules.get(name);
    if (!old) throw new Error(`setSubmodule: ${parent.constructor.name} has no submodule '${name}' to replace (path '${path}')`);
    parent.checkChild(m, name, 'setSubmodule');
    parent._modules.set(name, m);
    return old;
  }

  /** Calls fn on every submodule (children first) and then on this one, as PyTorch's apply. */
  apply(fn: (m: Module) => void): this {
    for (const c of this._modules.values()) c.apply(fn);
    fn(this);
    return this;
  }

  // ---- modes and gradients ------------------------------------------------------------
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this { return this.train(false); }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ---- state --------------------------------------------------------------------------
  /** Parameters and persistent buffers under dotted names; the live tensors, not copies. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const visit = (m: Module, p: string): void => {
      for (const [n, t] of m._parameters) if (t) out[p + n] = t;
      for (const [n, t] of m._buffers) if (t && !m._nonPersistent.has(n)) out[p + n] = t;
      for (const [n, c] of m._modules) visit(c, `${p}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values from sd into this module's tensors in place (converting dtype). Strict mode
   * checks everything first and throws one line listing the problems without touching any
   * tensor; otherwise the matching entries are copied and the problems returned.
   */
  loadStateDict(sd: Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing: string[] = [];
    const mismatched: ShapeMismatch[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [key, dst] of Object.entries(own)) {
      if (!Object.prototype.hasOwnProperty.call(sd, key)) { missing.push(key); continue; }
      const src = sd[key];
      if (!(src instanceof Tensor)) throw new Error(`loadStateDict: '${key}' is not a Tensor`);
      const expected = dst.shape, got = src.shape;
      if (expected.length !== got.length || expected.some((d, i) => d !== got[i])) mismatched.push({ key, expected, got });
      else copies.push([dst, src]);
    }
    const unexpected = Object.keys(sd).filter((k) => !Object.prototype.hasOwnProperty.call(own, k));
    if (strict && (missing.length || unexpected.length || mismatched.length)) {
      const parts: string[] = [];
      if (missing.length) parts.push(`${plural(missing.length, 'missing key')} (${listed(missing)})`);
      if (unexpected.length) parts.push(`${plural(unexpected.length, 'unexpected key')} (${listed(unexpected)})`);
      if (mismatched.length) {
        const items = mismatched.map((m) => `${m.key}: expected [${m.expected.join(', ')}], got [${m.got.join(', ')}]`);
        parts.push(`${plural(mismatched.length, 'shape mismatch', 'shape mismatches')} (${listed(items)})`);
      }
      throw new Error(`loadStateDict: ${this.constructor.name}: ${parts.join('; ')}`);
    }
    noGrad(() => { for (const [dst, src] of copies) if (dst !== src) dst.copy_(src); });
    return { missing, unexpected, mismatched };
  }

  /** Frees every parameter and buffer of the tree; the module is unusable afterwards. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m._parameters.values()) t?.dispose();
      for (const t of m._buffers.values()) t?.dispose();
    }
  }

  // ---- printing -----------------------------------------------------------------------
  /** The layer's settings, shown between the parentheses of toString() (as PyTorch's extra_repr). */
  extraRepr(): string { return ''; }

  /** The tree, formatted like PyTorch's repr of a module. */
  toString(): string {
    const lines: string[] = [];
    const extra = this.extraRepr();
    if (extra) lines.push(...extra.split('\n'));
    for (const [n, c] of this._modules) lines.push(`(${n}): ${c.toString().split('\n').join('\n  ')}`);
    const name = this.constructor.name;
    if (!this._modules.size) return `${name}(${extra})`;
    return `${name}(\n  ${lines.join('\n  ')}\n)`;
  }
}
