/**
 * A session let in by a time-boxed access grant ends when the grant does, whatever its protocol.
 * Returns the cancel for the session's own end. setTimeout holds at most ~24.8 days, so a longer
 * window is re-armed when that fires.
 */
export function endWithGrant(grant: { endsAt: Date } | undefined, end: () => void): () => void {
  if (!grant) return () => {};
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = Math.min(Math.max(0, grant.endsAt.getTime() - Date.now()), 2 ** 31 - 1);
    timer = setTimeout(() => (Date.now() >= grant.endsAt.getTime() ? end() : arm()), delay);
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
