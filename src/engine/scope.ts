// Deterministic release of native memory, in the spirit of tf.tidy: every tensor created while
// a scope runs is freed when it ends, except what the scope returns or what was kept.
// Finalizers exist only as a safety net for tensors created outside any scope.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Called when no scope will free it any more: its release is now up to dispose() or the GC. */
  untracked?(): void;
}

const stack: Set<Disposable>[] = [];

/** Called by every tensor constructor: records the tensor in the innermost scope, if any. */
export function track<T extends Disposable>(t: T): T {
  if (stack.length) stack[stack.length - 1].add(t);
  else t.untracked?.();
  return t;
}

/** Removes a tensor from every open scope, so it lives until disposed explicitly. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  t.untracked?.();
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/**
 * Runs fn; frees every tensor it created except those reachable from its result (tensors,
 * arrays, Maps and plain objects, a few levels deep), which move to the enclosing scope.
 */
export function scope<R>(fn: () => R): R {
  const mine = new Set<Disposable>();
  stack.push(mine);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of mine) t.dispose();
    throw new Error('scope: fn returned a Promise; scopes are synchronous (await outside, scope inside)');
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = stack[stack.length - 1];
  for (const t of mine) {
    if (!survivors.has(t)) t.dispose();
    else if (parent) parent.add(t);
    else t.untracked?.();
  }
  return result;
}

/** Number of open scopes (for tests and assertions). */
export function scopeDepth(): number {
  return stack.length;
}
