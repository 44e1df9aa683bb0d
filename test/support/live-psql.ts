import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A psql kept open, statements sent one at a time; `\echo` marks where each answer ends. */
export class LivePsql {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private marks = 0;
  private readonly exited: Promise<number | null>;

  constructor(url: string) {
    this.child = spawn('psql', ['-X', '-q', '-A', '-t', '--no-psqlrc', '-d', url], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => (this.stdout += d));
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Sends the statements and resolves with what psql printed for them (stdout). */
  async send(sql: string, timeoutMs = 60_000): Promise<string> {
    const mark = `--mark-${++this.marks}--`;
    const from = this.stdout.length;
    this.child.stdin.write(`${sql}\n\\echo ${mark}\n`);
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(`${mark}\n`, from)) {
      if (this.child.exitCode !== null) throw new Error(`psql exited (${this.child.exitCode}): ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no answer from psql; stderr: ${this.stderr}`);
      await sleep(20);
    }
    return this.stdout.slice(from, this.stdout.indexOf(`${mark}\n`, from)).trim();
  }

  /**
   * Sends a statement on a connection the server has ended: a non-interactive psql then says why
   * and exits (2, "connection to server was lost"). Resolves with the exit code and what it printed.
   */
  async sendOnLostConnection(sql: string, timeoutMs = 60_000): Promise<{ code: number | null; stderr: string }> {
    const mark = `--mark-${++this.marks}--`;
    const from = this.stdout.length;
    this.child.stdin.write(`${sql}\n\\echo ${mark}\n`);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`psql did not exit; stderr: ${this.stderr}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (this.stdout.includes(`${mark}\n`, from)) throw new Error(`psql answered on a lost connection: ${this.stdout}`);
    return { code, stderr: this.stderr };
  }

  get errors(): string {
    return this.stderr;
  }

  async quit(): Promise<number | null> {
    this.child.stdin.end('\\q\n');
    return this.exited;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
