/**
 * One-shot commands against a running agent. A data directory is used by one process at a time
 * (storage.ts, lockDataDir), so a one-shot command cannot open an agent that `join`, `run` or
 * `tail` is running; instead that process serves the commands through a socket in the directory
 * (only its owner can reach it: the directory is 0700, the socket 0600), and the command checks
 * its arguments itself, hands them over and prints what the running agent answers.
 *
 * On the socket: one JSON line from the command, {argv, cwd} (paths in argv are relative to cwd);
 * then JSON lines back, {out: line} or {err: line}, and a last {exit: code}.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const CONTROL_SOCKET = 'agent.sock';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export interface ControlRequest {
  argv: string[];
  cwd: string;
}

/** Where the agent of `dataDir` listens, or undefined where the path would not fit a Unix socket. */
export function controlPath(dataDir: string): string | undefined {
  if (process.platform === 'win32') return `\\\\.\\pipe\\wsp-agent-${createHash('sha256').update(dataDir).digest('hex').slice(0, 32)}`;
  const path = join(dataDir, CONTROL_SOCKET);
  return Buffer.byteLength(path) <= 100 ? path : undefined; // sun_path holds 104 (macOS) to 108 bytes
}

const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Serves one-shot commands for the running agent of `dataDir` (whose lock this process holds, so a
 * socket file left there is a dead agent's). The socket accepts connections when this returns (a
 * Unix socket is bound and listening synchronously), so a command run right after the agent says
 * it is ready finds it; `failed` hears of a socket that could not be made. Returns a function that
 * stops serving.
 */
export function serveControl(dataDir: string, handle: (request: ControlRequest, io: Io) => Promise<number>, failed: (error: Error) => void): () => void {
  const path = controlPath(dataDir);
  if (!path) return () => {};
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const send = (message: object) => socket.writable && socket.write(JSON.stringify(message) + '\n');
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length) > MAX_REQUEST_BYTES && socket.destroy());
    const lines = createInterface({ input: socket });
    lines.on('error', () => {}); // readline repeats the socket's errors, handled above
    lines.once('line', (line) => {
      const request = parseRequest(line);
      if (!request) return void socket.destroy();
      const io: Io = { out: (l) => send({ out: l }), err: (l) => send({ err: l }) };
      handle(request, io).then(
        (code) => socket.end(JSON.stringify({ exit: code }) + '\n'),
        (error: Error) => socket.end(JSON.stringify({ err: `wsp-agent: ${error.message}` }) + '\n' + JSON.stringify({ exit: 1 }) + '\n'),
      );
    });
  });
  server.on('error', failed);
  try {
    if (process.platform !== 'win32') removeSocket(path);
    server.listen(path);
    if (process.platform !== 'win32' && server.listening) chmodSync(path, 0o600);
  } catch (error) {
    server.close();
    failed(error as Error);
  }
  return () => {
    const listening = server.listening;
    server.close(); // libuv unlinks the socket file of a listening server; removed here in case
    for (const socket of sockets) socket.destroy();
    try {
      if (process.platform !== 'win32' && listening) removeSocket(path);
    } catch {
      /* a socket file left behind is removed by the next agent */
    }
  };
}

/**
 * Runs `request` on the agent running on `dataDir`, printing its output to `io`: its exit code, or
 * undefined when no agent is running there (no socket, or a dead agent's).
 */
export function forwardToRunning(dataDir: string, request: ControlRequest, io: Io): Promise<number | undefined> {
  const path = controlPath(dataDir);
  if (!path) return Promise.resolve(undefined);
  return new Promise((done) => {
    let connected = false;
    let exit: number | undefined;
    const socket = createConnection(path, () => {
      connected = true;
      socket.write(JSON.stringify(request) + '\n');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) done(undefined); // ENOENT, ECONNREFUSED: nobody serves the directory
      else io.err(`wsp-agent: the running agent: ${error.message}`);
    });
    const lines = createInterface({ input: socket });
    lines.on('error', () => {}); // readline repeats the socket's errors, handled above
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { out?: string; err?: string; exit?: number };
      if (typeof message.out === 'string') io.out(message.out);
      if (typeof message.err === 'string') io.err(message.err);
      if (typeof message.exit === 'number') exit = message.exit;
    });
    socket.on('close', () => {
      if (!connected) return;
      if (exit === undefined) io.err('wsp-agent: the running agent stopped before the command finished');
      done(exit ?? 1);
    });
  });
}

function parseRequest(line: string): ControlRequest | undefined {
  try {
    const raw = JSON.parse(line) as Partial<ControlRequest>;
    if (Array.isArray(raw.argv) && raw.argv.every((a) => typeof a === 'string') && typeof raw.cwd === 'string') return { argv: raw.argv, cwd: raw.cwd };
  } catch {
    /* not a request */
  }
  return undefined;
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
