// Test helpers: a free loopback port and N node processes run side by side as ranks.
import { spawn } from 'child_process';
import * as net from 'net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; seconds: number }

/** Runs `node args…` with extra env; resolves when it exits (killed after killAfterMs). */
export function runNode(args: string[], env: Record<string, string> = {}, killAfterMs = 60_000): Promise<Exit> {
  const t0 = Date.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, GDNSQ_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** The last stdout line of a run, parsed. */
export function lastJson<T>(e: Exit): T {
  const lines = e.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(`no JSON result (exit ${e.code} ${e.signal ?? ''}): ${e.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}
