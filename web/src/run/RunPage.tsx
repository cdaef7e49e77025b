// Skeleton only: the run page is being built (issue 31, points 3-5).
export function RunPage({ id }: { id: string }) {
  return <main><h1>Run {id}</h1></main>;
}
