import { spawn } from 'node:child_process';

type Env = Record<string, string | undefined>;

/**
 * Whether a graphical browser can be opened from here: not when WARDEN_NO_BROWSER is set,
 * nor over SSH or on a console without a display, where xdg-open would start a text
 * browser in the terminal.
 */
export function browserAvailable(env: Env, platform: NodeJS.Platform = process.platform): boolean {
  if (env.WARDEN_NO_BROWSER) return false;
  if (platform === 'darwin' || platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/**
 * Hands the URL to the desktop's opener (open, explorer, xdg-open) without waiting for the
 * browser; resolves to whether the opener started. Best effort: callers print the URL too.
 */
export function openInBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const opener = platform === 'darwin' ? 'open' : platform === 'win32' ? 'explorer' : 'xdg-open';
  return new Promise((resolve) => {
    try {
      const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}
