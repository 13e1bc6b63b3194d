// The part every optimizer shares: parameter groups with their own hyper-parameters (lr is
// mutable, schedulers set it), lazily created per-parameter state, and a checkpointable state
// dict laid out like PyTorch's (parameters numbered across groups in order).
import { Tensor, scope, noGrad, isFloating } from '../engine';

/** Hyper-parameters every group has. */
export interface GroupHyper {
  lr: number;
}

export type ParamGroup<H extends GroupHyper> = H & { readonly params: readonly Tensor[] };
/** A group as given to a constructor: its parameters and the hyper-parameters it overrides. */
export type ParamGroupSpec<H extends GroupHyper> = Partial<H> & { params: readonly Tensor[] };
export type Params<H extends GroupHyper> = readonly Tensor[] | readonly ParamGroupSpec<H>[];

/** What one parameter has accumulated: its update count and named buffers (kept tensors). */
export interface ParamState {
  step: number;
  readonly buffers: Record<string, Tensor>;
}

/** The JSON half of a state dict (hyper-parameters and step counts). */
export interface OptimizerMeta {
  optimizer: string;
  groups: Array<Record<string, unknown> & { params: number[] }>;
  state: Record<string, { step: number }>;
}

/**
 * `state` maps `state.<paramIndex>.<buffer>` to tensors (safetensors-ready); `meta` is plain
 * JSON. The tensors returned by stateDict() are the optimizer's own: save them, do not dispose
 * them, and expect them to change at the next step().
 */
export interface OptimizerStateDict {
  state: Record<string, Tensor>;
  meta: OptimizerMeta;
}

/** `base` with every option that is not undefined laid over it. */
export function withDefaults<H extends object>(base: H, options: Partial<H>): H {
  const out = { ...base };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Throws `<where>: <name> must be in <range>, got <v>` unless v is a number in range. */
export function checkRange(where: string, name: string, v: unknown, lo: number, hi = Infinity, hiOpen = false): void {
  const ok = typeof v === 'number' && v >= lo && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    const range = hi === Infinity ? `≥ ${lo}` : `[${lo}, ${hi}${hiOpen ? ')' : ']'}`;
    throw new Error(`${where}: ${name} must be ${hi === Infinity ? range : `in ${range}`}, got ${String(v)}`);
  }
}

/** a + alpha·b in one kernel, as PyTorch's `a.add(b, alpha=...)` (same rounding). */
export function addScaled(a: Tensor, b: Tensor, alpha: number): Tensor {
  return a.clone().add_(b, alpha);
}

export abstract class Optimizer<H extends GroupHyper> {
  readonly paramGroups: ParamGroup<H>[];
  /** Every parameter, numbered across groups in order (the indices of the state dict). */
  private readonly params: Tensor[] = [];
  private readonly groupOf: number[] = [];
  private readonly states = new Map<number, ParamState>();

  constructor(params: Params<H>, defaults: H) {
    const specs: readonly ParamGroupSpec<H>[] =
      params.length > 0 && params[0] instanceof Tensor ? [{ params: params as readonly Tensor[] } as ParamGroupSpec<H>] : (params as readonly ParamGroupSpec<H>[]);
    if (specs.length === 0) throw new Error(`${this.name}: got an empty parameter list`);
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec, gi) => {
      if (!spec || !Array.isArray(spec.params)) throw new Error(`${this.name}: group ${gi} has no params array`);
      const { params: ps, ...overrides } = spec;
      // Cloned so groups never share (and mutate) one betas array or the class defaults.
      const group = { ...structuredClone(withDefaults(defaults, overrides as unknown as Partial<H>)), params: [...ps] } as ParamGroup<H>;
      this.validate(group, `${this.name} (group ${gi})`);
      for (const p of ps) {
        if (!(p instanceof Tensor)) throw new Error(`${this.name}: group ${gi} holds something that is not a Tensor`);
        if (seen.has(p)) throw new Error(`${this.name}: a parameter appears more than once (group ${gi})`);
        if (!isFloating(p.dtype)) throw new Error(`${this.name}: parameter ${this.params.length} is ${p.dtype}; only floating tensors can be optimized`);
        if (!p.isLeaf) throw new Error(`${this.name}: parameter ${this.params.length} is not a leaf tensor`);
        seen.add(p);
        this.params.push(p);
        this.groupOf.push(gi);
      }
      return group;
    });
  }

  /** The class name; it also tags state dicts so one optimizer's state is not loaded into another. */
  get name(): string {
    return this.constructor.name;
  }

  /** Throws a one-line error (prefixed with `where`) when a group's hyper-parameters are invalid. */
  protected abstract validate(h: H, where: string): void;
  /** The buffers a parameter's state holds under these hyper-parameters. */
  protected abstract stateKeys(h: H): readonly string[];
  /**
   * Updates one parameter in place; runs under noGrad inside a scope, with state.step already
   * counting this update. Buffers created here must be kept (see buffer()).
   */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): void;

  /** The named buffer, created from init() (and kept) the first time. */
  protected buffer(state: ParamState, key: string, init: () => Tensor): Tensor {
    return (state.buffers[key] ??= init().keep());
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      this.params.forEach((p, i) => {
        // One scope per parameter bounds the temporaries to one parameter's worth.
        scope(() => {
          const grad = p.grad;
          if (grad === null) return;
          let state = this.states.get(i);
          if (!state) this.states.set(i, (state = { step: 0, buffers: {} }));
          state.step += 1;
          this.update(p, grad, this.paramGroups[this.groupOf[i]], state);
        });
      });
    });
  }

  /** Sets every parameter's gradient to none (the next backward writes fresh ones). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  stateDict(): OptimizerStateDict {
    const state: Record<string, Tensor> = {};
    const steps: Record<string, { step: number }> = {};
    for (const [i, s] of [...this.states].sort((a, b) => a[0] - b[0])) {
      steps[i] = { step: s.step };
      for (const [key, t] of Object.entries(s.buffers)) state[`state.${i}.${key}`] = t;
    }
    let next = 0;
    const groups = this.paramGroups.map(({ params, ...hyper }) => ({
      ...(structuredClone(hyper) as Record<string, unknown>),
      params: params.map(() => next++),
    }));
    return { state, meta: { optimizer: this.name, groups, state: steps } };
  }

  /**
   * Restores hyper-parameters, step counts and buffers (copied, so the caller may dispose its
   * tensors). Everything is checked before anything changes: a bad state dict leaves the
   * optimizer as it was.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    const { meta } = sd;
    if (!meta || !Array.isArray(meta.groups)) throw new Error(`${where}: meta.groups is missing`);
    if (meta.optimizer !== this.name) throw new Error(`${where}: the state dict is for ${String(meta.optimizer)}, not ${this.name}`);
    if (meta.groups.length !== this.paramGroups.length) {
      throw new Error(`${where}: the state dict has ${meta.groups.length} parameter groups, the optimizer has ${this.paramGroups.length}`);
    }
    // Saved parameter ids map to ours by position, group by group, as in PyTorch.
    const idMap = new Map<number, number>();
    let next = 0;
    const hypers = this.paramGroups.map((group, gi) => {
      const saved = meta.groups[gi];
      if (!Array.isArray(saved.params) || saved.params.length !== group.params.length) {
        throw new Error(`${where}: group ${gi} has ${saved.params?.length ?? 0} parameters in the state dict, ${group.params.length} in the optimizer`);
      }
      for (const id of saved.params) idMap.set(id, next++);
      const hyper: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(group)) if (key !== 'params') hyper[key] = key in saved ? saved[key] : v;
      this.validate(hyper as unknown as H, `${where} (group ${gi})`);
      return hyper as unknown as H;
    });

    const steps = new Map<number, number>();
    for (const [id, s] of Object.entries(meta.state ?? {})) {
      const i = idMap.get(Number(id));
      if (i === undefined) throw new Error(`${where}: meta.state names parameter ${id}, which no group lists`);
      if (!Number.isInteger(s?.step) || s.step < 0) throw new Error(`${where}: parameter ${id} has step ${String(s?.step)}; expected a non-negative integer`);
      steps.set(i, s.step);
    }
    const buffers = new Map<number, Record<string, Tensor>>();
    for (const [key, t] of Object.entries(sd.state ?? {})) {
      const m = /^state\.(\d+)\.(\w+)$/.exec(key);
      if (!m) throw new Error(`${where}: unexpected key '${key}' (expected state.<paramIndex>.<buffer>)`);
      const i = idMap.get(Number(m[1]));
      if (i === undefined || !steps.has(i)) throw new Error(`${where}: '${key}' belongs to parameter ${m[1]}, which has no entry in meta.state`);
      const want = this.params[i].shape;
      if (t.shape.join() !== want.join()) throw new Error(`${where}: '${key}' has shape [${t.shape.join(', ')}], parameter ${i} has shape [${want.join(', ')}]`);
      let b = buffers.get(i);
      if (!b) buffers.set(i, (b = {}));
      b[m[2]] = t;
    }
    for (const i of steps.keys()) {
      const have = Object.keys(buffers.get(i) ?? {}).sort();
      const need = [...this.stateKeys(hypers[this.groupOf[i]])].sort();
      if (have.join() !== need.join()) {
        throw new Error(`${where}: parameter ${i} has buffers [${have.join(', ')}]; ${this.name} needs [${need.join(', ')}]`);
      }
    }

    this.dispose();
    this.paramGroups.forEach((g, gi) => Object.assign(g, structuredClone(hypers[gi])));
    noGrad(() => {
      for (const [i, step] of steps) {
        const copies: Record<string, Tensor> = {};
        for (const [key, t] of Object.entries(buffers.get(i) ?? {})) copies[key] = Tensor.zerosLike(this.params[i]).copy_(t).keep();
        this.states.set(i, { step, buffers: copies });
      }
    });
  }

  /** Frees the per-parameter state; a later step() starts it afresh. */
  dispose(): void {
    for (const s of this.states.values()) for (const t of Object.values(s.buffers)) t.dispose();
    this.states.clear();
  }
}
