// Skeleton only: the runs list is being built (issue 31, point 2).
export function RunsList() {
  return <main><h1>Runs</h1></main>;
}
