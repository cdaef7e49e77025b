import { useEffect, useState } from 'react';
import { useConnection, type LiveClient } from '../live';

/**
 * The live-connection bar (API.md hook: `role="status"`, "Reconnecting…" while down): nothing while
 * fine, "Reconnecting…" while not, "Live" for a moment once back.
 */
export function ConnectionStatus({ client }: { client: LiveClient }) {
  const connection = useConnection(client);
  const [back, setBack] = useState(false);
  const [wasDown, setWasDown] = useState(false);
  useEffect(() => {
    if (connection === 'reconnecting') setWasDown(true);
    if (connection === 'live' && wasDown) {
      setBack(true);
      setWasDown(false);
      const timer = setTimeout(() => setBack(false), 3000);
      return () => clearTimeout(timer);
    }
  }, [connection, wasDown]);
  const text = connection === 'reconnecting' ? 'Reconnecting…' : back ? 'Live' : '';
  return (
    <div role="status" className={`connection ${connection}`} data-connection={connection}>
      {text}
    </div>
  );
}
