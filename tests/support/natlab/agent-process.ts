/**
 * The built `wsp-agent` command (bin/wsp-agent.js) run inside a lab namespace, its `--json` output
 * read as events. It gathers on the namespace's own interfaces (no `--bind`), as on a real host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = resolve(__dirname, '../../../bin/wsp-agent.js');

export type AgentEvent = Record<string, unknown> & { type: string };

export class AgentProcess {
  private readonly events: AgentEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = '';
  private readonly exit: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as AgentEvent);
      } catch {
        this.stderr += `(not JSON) ${line}\n`;
      }
      for (const wake of this.waiters) wake();
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = new Promise((done) => child.once('exit', (code) => {
      done(code);
      for (const wake of this.waiters) wake();
    }));
  }

  static start(ns: string, args: string[]): AgentProcess {
    return new AgentProcess(spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** The first event (printed so far or later) that matches. */
  next(match: (e: AgentEvent) => boolean, timeoutMs = 20_000): Promise<AgentEvent> {
    return new Promise((done, fail) => {
      const check = () => {
        const found = this.events.find(match);
        if (found) finish(() => done(found));
        else if (this.child.exitCode !== null || this.child.signalCode !== null) finish(() => fail(new Error(`wsp-agent exited (${this.child.exitCode ?? this.child.signalCode}) without the event; ${this.describe()}`)));
      };
      const timer = setTimeout(() => finish(() => fail(new Error(`no such wsp-agent event within ${timeoutMs} ms; ${this.describe()}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Every event printed so far that matches. */
  seen(match: (e: AgentEvent) => boolean): AgentEvent[] {
    return this.events.filter(match);
  }

  exited(): Promise<number | null> {
    return this.exit;
  }

  /** SIGINT (the agent closes cleanly) and its exit code; SIGKILL if it hangs. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exit.finally(() => clearTimeout(timer));
    }
    return this.exit;
  }

  private describe(): string {
    return `events: ${this.events.map((e) => JSON.stringify(e)).join('\n')}\nstderr: ${this.stderr.slice(-2000)}`;
  }
}
