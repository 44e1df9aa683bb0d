#!/usr/bin/env node
/* global process, console -- a plain Node script: it runs before anything is generated or compiled */
// Runs before the test suite (`pnpm test`): the end-to-end tests drive real clients and servers,
// so everything they need is checked here, up front, and a missing piece is installed (as root
// on Debian, as .ci/run does) or named with the exact line that installs it, before any test
// runs. WARDEN_TEST_PREFLIGHT=off skips it.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import net from 'node:net';

if (process.env.WARDEN_TEST_PREFLIGHT === 'off') process.exit(0);

/** Binary (name on PATH, or absolute path) → the Debian package that provides it. */
const BINARIES = [
  ['psql', 'postgresql-client'],
  ['pgbench', 'postgresql-client'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['sftp', 'openssh-client'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['asciinema', 'asciinema'],
  ['/usr/bin/chromium', 'chromium'],
  ['openssl', 'openssl'],
  ['script', 'bsdutils'],
];

function found(binary) {
  if (binary.startsWith('/')) {
    try {
      accessSync(binary, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

function missingPackages() {
  return [...new Set(BINARIES.filter(([binary]) => !found(binary)).map(([, pkg]) => pkg))];
}

/** The private-cluster tests need the server binaries of the local Postgres (initdb, pg_ctl). */
function serverBinaries() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return false;
  return readdirSync(root).some((version) => existsSync(`${root}/${version}/bin/initdb`));
}

function reachable(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const problems = [];
let missing = missingPackages();
if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = found('apt-get');
  if (root && apt) {
    console.log(`test preflight: installing ${missing.join(' ')} (Debian packages the end-to-end tests drive)`);
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
        stdio: 'inherit',
        env,
      });
    } catch {
      // Reported below with the install line.
    }
    missing = missingPackages();
  }
  if (missing.length > 0) {
    problems.push(
      `missing programs the tests run; install them with:\n    sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
  }
}
if (!serverBinaries()) {
  problems.push(
    'no PostgreSQL server binaries under /usr/lib/postgresql/<version>/bin (initdb, pg_ctl); install them with:\n    sudo apt-get install -y postgresql',
  );
}
if (!(await reachable(5432))) {
  problems.push(
    'no Postgres on 127.0.0.1:5432 (the tests need it with trust auth for local connections); start it, e.g.:\n    sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  );
}
if (!(await reachable(6379))) {
  problems.push(
    'no Redis on 127.0.0.1:6379; start it, e.g.:\n    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
  );
}

if (problems.length > 0) {
  console.error('test preflight: the tests cannot run on this machine yet, nothing was run:\n');
  for (const problem of problems) console.error(`  - ${problem}\n`);
  console.error('(WARDEN_TEST_PREFLIGHT=off skips this check.)');
  process.exit(1);
}
