// Skeleton only: the share viewer is being built (issue 31, point 6).
export function ShareViewer({ token }: { token: string }) {
  return <main><h1>Shared page</h1><p hidden>{token}</p></main>;
}
