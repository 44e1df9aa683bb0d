import { useEffect, useRef } from 'react';
import { useAuth } from './auth';
import { Loading } from './components/status';
import { ConnectionForm } from './pages/ConnectionForm';
import { Connections } from './pages/Connections';
import { Inbox } from './pages/Inbox';
import { PolicyForm } from './pages/PolicyForm';
import { Policies } from './pages/Policies';
import { ReviewPage } from './pages/ReviewPage';
import { SessionPage } from './pages/SessionPage';
import { Sessions } from './pages/Sessions';
import { SignIn } from './pages/SignIn';
import { Link, match, useLocation } from './router';

const NAV = [
  { to: '/', label: 'Approvals', active: (p: string) => p === '/' || p.startsWith('/reviews') },
  { to: '/sessions', label: 'Sessions', active: (p: string) => p.startsWith('/sessions') },
  { to: '/connections', label: 'Connections', active: (p: string) => p.startsWith('/connections') },
  { to: '/policies', label: 'Policies', active: (p: string) => p.startsWith('/policies') },
];

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/reviews') return <Inbox />;
  if ((m = match('/reviews/:id', path))) return <ReviewPage id={m.id!} />;
  if (path === '/sessions') return <Sessions />;
  if ((m = match('/sessions/:id', path))) return <SessionPage id={m.id!} />;
  if (path === '/connections') return <Connections />;
  if (path === '/connections/new') return <ConnectionForm />;
  if ((m = match('/connections/:ref', path))) return <ConnectionForm ref_={m.ref!} />;
  if (path === '/policies') return <Policies />;
  if (path === '/policies/new') return <PolicyForm />;
  if ((m = match('/policies/:ref', path))) return <PolicyForm ref_={m.ref!} />;
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link to="/">Go to the approvals inbox</Link>.
      </p>
    </>
  );
}

export function App() {
  const { me, ready, signOut } = useAuth();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // After navigating, move focus to the new page's heading so keyboard and screen-reader users land on it.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.focus();
  }, [path]);

  if (!ready) return <Loading what="Warden" />;
  if (!me) return <SignIn />;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Warden</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.active(path) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {me.displayName ?? me.name} <span className={`role role-${me.role}`}>{me.role}</span>
          </span>
          <button type="button" className="link" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}
