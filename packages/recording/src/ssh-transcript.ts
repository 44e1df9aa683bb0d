import type {
  RecordedDecision,
  RecordedEvent,
  SshDataPayload,
  SshExecPayload,
  SshExitPayload,
  SshForwardPayload,
  SshRefusedPayload,
  SshResizePayload,
  SshShellPayload,
  SshSftpPayload,
  SshSignalPayload,
  SshSubsystemPayload,
  SshTruncatedPayload,
} from './events.js';

/**
 * How the transcript shows SSH events: commands as a shell prompt would, output as
 * it came (terminal control sequences stripped, so the text reads in a file), and the
 * gateway's decisions as `--` comment lines like the SQL transcript.
 */
export function renderSshEvent(event: RecordedEvent, offset: string, prompt: string): string {
  const p = event.payload as never;
  switch (event.kind) {
    case 'ssh.shell': {
      const s = p as SshShellPayload;
      const pty = s.pty ? ` (${s.pty.term}, ${s.pty.cols}x${s.pty.rows})` : ' (no terminal)';
      return `${offset} -- channel ${s.channel}: interactive shell${pty}\n`;
    }
    case 'ssh.exec': {
      const e = p as SshExecPayload;
      return `${offset} ${prompt}$ ${e.text}\n` + decision(e.decision);
    }
    case 'ssh.data': {
      const d = p as SshDataPayload;
      if (typeof d.data !== 'string') return generic(event);
      if (d.stream === 'stdin') return '';
      const text = stripControl(d.data);
      return d.stream === 'stderr' ? text.replace(/^(?=.)/gm, '[stderr] ') : text;
    }
    case 'ssh.resize': {
      const r = p as SshResizePayload;
      return `\n${offset} -- channel ${r.channel}: terminal resized to ${r.cols}x${r.rows}\n`;
    }
    case 'ssh.signal':
      return `${offset} -- channel ${(p as SshSignalPayload).channel}: signal ${(p as SshSignalPayload).signal}\n`;
    case 'ssh.exit': {
      const x = p as SshExitPayload;
      const how = x.signal ? `killed by signal ${x.signal}` : `exit status ${x.code ?? 'unknown'}`;
      return `\n${offset} -- channel ${x.channel}: ${how}\n`;
    }
    case 'ssh.refused': {
      const r = p as SshRefusedPayload;
      return `${offset} -- REFUSED ${r.request}: ${r.reason}\n`;
    }
    case 'ssh.subsystem': {
      const s = p as SshSubsystemPayload;
      return `${offset} -- channel ${s.channel}: subsystem ${s.name}\n`;
    }
    case 'ssh.sftp': {
      const f = p as SshSftpPayload;
      const mode = f.write === undefined ? '' : f.write ? ' (write)' : ' (read)';
      return `${offset} -- channel ${f.channel}: sftp ${f.op} ${f.path}${f.to ? ` -> ${f.to}` : ''}${mode}\n`;
    }
    case 'ssh.forward': {
      const f = p as SshForwardPayload;
      const how = f.error ? `failed: ${f.error}` : `${f.bytesIn} bytes in, ${f.bytesOut} bytes out`;
      return `${offset} -- channel ${f.channel}: port forward to ${f.host}:${f.port} ${how}\n`;
    }
    case 'ssh.truncated': {
      const t = p as SshTruncatedPayload;
      return `\n-- channel ${t.channel}: output past ${t.recordedBytes} bytes not recorded\n`;
    }
    default:
      return generic(event);
  }
}

/** Unknown kinds, and known kinds whose payload is not what this version writes, shown as they are. */
function generic(event: RecordedEvent): string {
  return `[${event.kind}] ${JSON.stringify(event.payload)}\n`;
}

function decision(d: RecordedDecision | undefined): string {
  if (!d || d.action === 'allow') return '';
  const construct = d.construct ? ` [${d.construct}]` : '';
  if (d.action === 'block') return `-- BLOCKED by rule "${d.rule}"${construct}: ${d.message}\n`;
  return `-- HELD FOR REVIEW by rule "${d.rule}"${construct}\n`;
}

/** Removes ANSI escape sequences and carriage returns so terminal output reads as text. */
export function stripControl(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>]/g, '')
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}
