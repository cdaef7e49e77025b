import { Link } from 'wouter';

export function NotFound() {
  return (
    <main className="state error">
      <h1>Not found</h1>
      <p>There is no page at this address.</p>
      <Link href="/">Back to the runs</Link>
    </main>
  );
}
