import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

/**
 * A modal confirmation built on <dialog>: the browser traps focus, Escape cancels, and focus goes
 * back to the opener when it closes. `reasonLabel` adds a required text field passed to onConfirm.
 */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel,
  reasonLabel,
  onConfirm,
  danger = true,
}: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  reasonLabel?: string;
  onConfirm: (reason: string) => Promise<void>;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const titleId = useId();
  const reasonId = useId();

  useEffect(() => {
    const d = dialog.current;
    const reset = () => {
      setError(null);
      setBusy(false);
    };
    d?.addEventListener('close', reset);
    return () => d?.removeEventListener('close', reset);
  }, []);

  const confirm = async () => {
    if (reasonLabel && !reason.trim()) {
      setError(`${reasonLabel} is required`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      dialog.current?.close();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <>
      <button type="button" className={danger ? 'danger' : ''} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <h2 id={titleId}>{title}</h2>
          <div>{children}</div>
          {reasonLabel ? (
            <p className="field">
              <label htmlFor={reasonId}>{reasonLabel}</label>
              <input id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} required />
            </p>
          ) : null}
          {error ? (
            <p className="error" role="alert">
              {error}
            </p>
          ) : null}
          <div className="actions">
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" className={danger ? 'danger' : 'primary'} disabled={busy}>
              {busy ? 'Working…' : confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
